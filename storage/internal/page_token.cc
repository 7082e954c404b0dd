#include "storage/internal/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stache::storage::internal {
namespace {

// Namespaces and prefixes never contain a newline (object_key.h).
constexpr char kVersion[] = "p1";

}  // namespace

std::string EncodePageToken(const ListQuery& query, absl::string_view position) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kVersion, "\n", query.ns, "\n", query.key_prefix, "\n", position));
}

absl::StatusOr<std::string> DecodePageToken(const ListQuery& query) {
  if (query.page_token.empty()) return std::string();
  const absl::Status invalid = absl::InvalidArgumentError(
      "page_token was not returned by a List with the same namespace and key_prefix");
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(query.page_token, &decoded)) return invalid;
  std::vector<std::string> parts = absl::StrSplit(decoded, absl::MaxSplits('\n', 3));
  if (parts.size() != 4 || parts[0] != kVersion || parts[1] != query.ns ||
      parts[2] != query.key_prefix || parts[3].empty()) {
    return invalid;
  }
  return parts[3];
}

}  // namespace stache::storage::internal
