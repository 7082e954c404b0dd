// List page tokens shared by the backends: an opaque (web-safe base64)
// wrapper around a backend's position in its listing, bound to the query's
// namespace and key prefix so that a token cannot be replayed elsewhere.
//
//   page.next_page_token = EncodePageToken(query, last_position);
//   STACHE_ASSIGN_OR_RETURN(std::string after, DecodePageToken(query));
#ifndef STACHE_STORAGE_INTERNAL_PAGE_TOKEN_H_
#define STACHE_STORAGE_INTERNAL_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/blob_store.h"

namespace stache::storage::internal {

std::string EncodePageToken(const ListQuery& query, absl::string_view position);

// The position in query.page_token; empty when the token is empty.
// INVALID_ARGUMENT when it was not made by EncodePageToken for the same
// namespace and prefix.
absl::StatusOr<std::string> DecodePageToken(const ListQuery& query);

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_PAGE_TOKEN_H_
