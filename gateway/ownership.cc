#include "gateway/ownership.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "gateway/session.h"
#include "storage/internal/sha256.h"

namespace stache::gateway {
namespace {

constexpr size_t kDeleteTokenBytes = 32;
constexpr char kOwnerLabel[] = "owner_sha256";
constexpr char kDeleteTokenLabel[] = "delete_token_sha256";

// Equal-length hex digests compared without an early exit; an empty
// stored digest matches nothing.
bool SameDigest(const std::string& stored, const std::string& presented) {
  return !stored.empty() && stored.size() == presented.size() &&
         CRYPTO_memcmp(stored.data(), presented.data(), stored.size()) == 0;
}

}  // namespace

std::string DeleteTokenDigest(absl::string_view token) {
  return storage::internal::Sha256Hex(token);
}

UploadOwnership NewUploadOwnership(absl::string_view owner_id) {
  UploadOwnership ownership;
  ownership.delete_token = RandomHex(kDeleteTokenBytes);
  ownership.stored.delete_token_sha256 = DeleteTokenDigest(ownership.delete_token);
  if (!owner_id.empty()) ownership.stored.owner_digest = OwnerDigest(owner_id);
  return ownership;
}

absl::Status CheckMayDelete(const StoredOwnership& stored,
                            const DeleteCredentials& credentials) {
  // Both are checked whatever the first says, so timing tells nothing.
  const bool owner = !credentials.owner_id.empty() &&
                     SameDigest(stored.owner_digest, OwnerDigest(credentials.owner_id));
  const bool token =
      !credentials.delete_token.empty() &&
      SameDigest(stored.delete_token_sha256, DeleteTokenDigest(credentials.delete_token));
  if (owner || token) return absl::OkStatus();
  if (!credentials.delete_token.empty()) {
    return absl::PermissionDeniedError("the delete token is not this photo's");
  }
  return absl::PermissionDeniedError(
      "only the uploader may delete this photo: from the page it was uploaded in, or "
      "with the delete_token of its upload sent as 'Authorization: Bearer <token>'");
}

void AddOwnershipLabels(const StoredOwnership& stored,
                        std::map<std::string, std::string>& labels) {
  if (!stored.owner_digest.empty()) labels[kOwnerLabel] = stored.owner_digest;
  if (!stored.delete_token_sha256.empty()) {
    labels[kDeleteTokenLabel] = stored.delete_token_sha256;
  }
}

StoredOwnership OwnershipFromLabels(const std::map<std::string, std::string>& labels) {
  StoredOwnership stored;
  if (auto it = labels.find(kOwnerLabel); it != labels.end())
    stored.owner_digest = it->second;
  if (auto it = labels.find(kDeleteTokenLabel); it != labels.end()) {
    stored.delete_token_sha256 = it->second;
  }
  return stored;
}

}  // namespace stache::gateway
