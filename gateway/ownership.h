// Who may delete an upload: its owner (the session that uploaded it) or
// whoever holds its delete token, a random secret returned once in the
// upload's answer. Storage keeps only digests of both, so reading storage
// grants nothing. No HTTP here.
//
//   UploadOwnership owned = NewUploadOwnership(session.owner_id);  // owned.delete_token
//   once STACHE_RETURN_IF_ERROR(CheckMayDelete(owned.stored, {.owner_id = caller}));
#ifndef STACHE_GATEWAY_OWNERSHIP_H_
#define STACHE_GATEWAY_OWNERSHIP_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace stache::gateway {

// What is stored with an upload (as labels of its record).
struct StoredOwnership {
  // OwnerDigest of the uploader's owner id; empty for uploads made before
  // owners were recorded, which nobody owns.
  std::string owner_digest;
  // SHA-256 (hex) of the delete token; empty when there is none.
  std::string delete_token_sha256;
};

struct UploadOwnership {
  StoredOwnership stored;
  // 64 hex digits (256 bits); handed to the uploader once, never stored.
  std::string delete_token;
};

// What a delete request brings; either may be empty.
struct DeleteCredentials {
  // The caller's session, when it may be used (the routes drop it for a
  // request that could be a cross-site forgery).
  std::string owner_id;
  std::string delete_token;
};

// A new delete token for an upload by `owner_id`.
UploadOwnership NewUploadOwnership(absl::string_view owner_id);

// SHA-256 (hex) of a delete token.
std::string DeleteTokenDigest(absl::string_view token);

// OK when the credentials name the owner or carry the token (compared in
// constant time); PERMISSION_DENIED otherwise, with a message saying what
// would be accepted.
absl::Status CheckMayDelete(const StoredOwnership& stored,
                            const DeleteCredentials& credentials);

// The labels that carry StoredOwnership, and back.
void AddOwnershipLabels(const StoredOwnership& stored,
                        std::map<std::string, std::string>& labels);
StoredOwnership OwnershipFromLabels(const std::map<std::string, std::string>& labels);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_OWNERSHIP_H_
