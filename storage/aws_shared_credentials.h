// Static S3 keys from an AWS shared credentials file (the SDKs' INI format,
// named by AWS_SHARED_CREDENTIALS_FILE), for deployments that hand storage
// its keys as a mounted secret file rather than in the environment: the
// Compose stack's generated MinIO keys.
//
//   [default]
//   aws_access_key_id = AKIA...
//   aws_secret_access_key = ...
//   aws_session_token = ...      (optional)
//
//   STACHE_ASSIGN_OR_RETURN(S3Credentials keys,
//                           ReadSharedCredentialsFile(path, "default"));
#ifndef STACHE_STORAGE_AWS_SHARED_CREDENTIALS_H_
#define STACHE_STORAGE_AWS_SHARED_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"
#include "storage/s3_credentials.h"

namespace stache::storage {

// The keys of `profile`. INVALID_ARGUMENT when the file cannot be read, is
// not INI, has no such profile, or the profile lacks either key; messages
// name the variable and profile, never the file's contents.
absl::StatusOr<S3Credentials> ReadSharedCredentialsFile(const std::string& path,
                                                        const std::string& profile);

}  // namespace stache::storage

#endif  // STACHE_STORAGE_AWS_SHARED_CREDENTIALS_H_
