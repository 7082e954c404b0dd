#include "storage/blob_store.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/status_macros.h"
#include "storage/internal/sha256.h"
#include "storage/object_key.h"

namespace stache::storage {
namespace {

absl::Status ValidateObjectName(absl::string_view ns, absl::string_view key) {
  STACHE_RETURN_IF_ERROR(ValidateNamespace(ns));
  return ValidateObjectKey(key);
}

}  // namespace

absl::Status ObjectNotFoundError(absl::string_view ns, absl::string_view key) {
  return absl::NotFoundError(
      absl::StrCat("no object \"", key, "\" in namespace \"", ns, "\""));
}

absl::StatusOr<ObjectInfo> BlobStore::Put(const ObjectHeader& header,
                                          ChunkSource source) {
  STACHE_RETURN_IF_ERROR(ValidateObjectName(header.ns, header.key));
  STACHE_RETURN_IF_ERROR(ValidateContentType(header.content_type));
  STACHE_RETURN_IF_ERROR(ValidateLabels(header.labels));
  ObjectHeader normalized = header;
  if (normalized.content_type.empty()) normalized.content_type = kDefaultContentType;
  absl::AsciiStrToLower(&normalized.expected_sha256_hex);
  if (!normalized.expected_sha256_hex.empty() &&
      !internal::IsSha256Hex(normalized.expected_sha256_hex)) {
    return absl::InvalidArgumentError(
        "expected_sha256_hex must be 64 hex digits (or empty)");
  }
  // Refused before a single byte is read: the caller announced too much.
  if (normalized.expected_size_bytes.has_value() &&
      *normalized.expected_size_bytes > max_object_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("object of ", *normalized.expected_size_bytes,
                     " bytes exceeds the limit of ", max_object_bytes_, " bytes"));
  }
  return DoPut(normalized, source);
}

absl::Status BlobStore::Get(absl::string_view ns, absl::string_view key, InfoSink on_info,
                            ChunkSink on_chunk) {
  STACHE_RETURN_IF_ERROR(ValidateObjectName(ns, key));
  return DoGet(ns, key, on_info, on_chunk);
}

absl::StatusOr<ObjectInfo> BlobStore::Stat(absl::string_view ns, absl::string_view key) {
  STACHE_RETURN_IF_ERROR(ValidateObjectName(ns, key));
  return DoStat(ns, key);
}

absl::StatusOr<ListPage> BlobStore::List(const ListQuery& query) {
  STACHE_RETURN_IF_ERROR(ValidateNamespace(query.ns));
  STACHE_RETURN_IF_ERROR(ValidateKeyPrefix(query.key_prefix));
  if (query.page_size < 0) {
    return absl::InvalidArgumentError("page_size must not be negative");
  }
  ListQuery normalized = query;
  // As Google's API guidance (AIP-158) asks: 0 picks the default, too large
  // is lowered to the maximum rather than refused.
  normalized.page_size =
      query.page_size == 0 ? kDefaultPageSize : std::min(query.page_size, kMaxPageSize);
  return DoList(normalized);
}

absl::Status BlobStore::Delete(absl::string_view ns, absl::string_view key) {
  STACHE_RETURN_IF_ERROR(ValidateObjectName(ns, key));
  return DoDelete(ns, key);
}

}  // namespace stache::storage
