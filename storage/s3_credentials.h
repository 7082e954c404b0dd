// Where the S3 backend gets its AWS credentials: static keys, or the
// temporary credentials of an ECS task role, fetched from the container
// credentials endpoint and refreshed before they expire. main fills this in
// from the standard AWS environment variables; nothing reads them elsewhere.
//
//   S3Credentials credentials{.access_key_id = getenv("AWS_ACCESS_KEY_ID"), ...};
//   S3Credentials task_role{.container_credentials_url =
//       "http://169.254.170.2" + relative_uri};
#ifndef STACHE_STORAGE_S3_CREDENTIALS_H_
#define STACHE_STORAGE_S3_CREDENTIALS_H_

#include <string>

namespace stache::storage {

struct S3Credentials {
  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary keys,
  // AWS_SESSION_TOKEN.
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // Used when access_key_id is empty: "http://169.254.170.2" +
  // AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS sets it for a task role), or
  // AWS_CONTAINER_CREDENTIALS_FULL_URI; with AWS_CONTAINER_AUTHORIZATION_TOKEN
  // sent as its Authorization header when set.
  std::string container_credentials_url;
  std::string container_authorization;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_S3_CREDENTIALS_H_
