// The RETURN_IF_ERROR / ASSIGN_OR_RETURN macros that Abseil 20220623 lacks.
// Plain absl (part of stache::server_base), so core libraries use them without
// pulling in gRPC.
//
//   STACHE_ASSIGN_OR_RETURN(cv::Mat image, DecodeImage(bytes, limits));
//   STACHE_RETURN_IF_ERROR(store.Put(key, bytes));
#ifndef STACHE_SERVER_STATUS_MACROS_H_
#define STACHE_SERVER_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Shaped like the macros in newer Abseil so they can be swapped later.
#define STACHE_RETURN_IF_ERROR(expr)                                  \
  do {                                                                \
    if (absl::Status _stache_status = (expr); !_stache_status.ok()) { \
      return _stache_status;                                          \
    }                                                                 \
  } while (0)

#define STACHE_STATUS_CONCAT_INNER_(a, b) a##b
#define STACHE_STATUS_CONCAT_(a, b) STACHE_STATUS_CONCAT_INNER_(a, b)
#define STACHE_ASSIGN_OR_RETURN(lhs, expr)                                               \
  STACHE_ASSIGN_OR_RETURN_IMPL_(STACHE_STATUS_CONCAT_(_stache_statusor_, __LINE__), lhs, \
                                expr)
#define STACHE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // STACHE_SERVER_STATUS_MACROS_H_
