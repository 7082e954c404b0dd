// The naming rules of stored objects, in one small unit so that the storage
// core, the gRPC adapter and the fuzzers (issue #7) agree on them.
//
//   STACHE_RETURN_IF_ERROR(ValidateObjectKey("originals/2026/cat.jpg"));
//   ValidateObjectKey("../etc/passwd");  // INVALID_ARGUMENT
//
// Keys: 1..512 bytes of [A-Za-z0-9._/-], no leading "/", no empty, "." or ".."
// path segments (so no trailing "/" and no "//" either), each segment at most
// 255 bytes (a file name's limit, which MinIO and other file-backed S3
// servers inherit). They are safe as file names, URL paths and S3 object
// keys without escaping.
// Namespaces: 1..64 bytes of [A-Za-z0-9._-], not "." or "..".
// Labels: at most 16; keys 1..256 bytes of [A-Za-z0-9._/-]; values up to 256
// bytes of valid UTF-8. Content types: up to 256 bytes of printable ASCII.
#ifndef STACHE_STORAGE_OBJECT_KEY_H_
#define STACHE_STORAGE_OBJECT_KEY_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace stache::storage {

inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxKeySegmentBytes = 255;
inline constexpr size_t kMaxNamespaceBytes = 64;
inline constexpr size_t kMaxLabels = 16;
inline constexpr size_t kMaxLabelKeyBytes = 256;
inline constexpr size_t kMaxLabelValueBytes = 256;
inline constexpr size_t kMaxContentTypeBytes = 256;

// Each returns OK or INVALID_ARGUMENT with a message naming the rule broken.
absl::Status ValidateObjectKey(absl::string_view key);
absl::Status ValidateNamespace(absl::string_view name);
// A List prefix: empty, or what a key may start with (the key rules without
// the segment rules for the last, possibly partial, segment).
absl::Status ValidateKeyPrefix(absl::string_view prefix);
absl::Status ValidateLabels(const std::map<std::string, std::string>& labels);
absl::Status ValidateContentType(absl::string_view content_type);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace stache::storage

#endif  // STACHE_STORAGE_OBJECT_KEY_H_
