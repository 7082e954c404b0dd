// Status plumbing shared by every service: one conversion each way between
// absl::Status (used everywhere inside) and grpc::Status (used at the edge),
// and the RETURN_IF_ERROR / ASSIGN_OR_RETURN macros that Abseil 20220623 lacks.
//
//   STACHE_ASSIGN_OR_RETURN(cv::Mat image, DecodeImage(bytes, limits));
//   return stache::server::ToGrpcStatus(status);
#ifndef STACHE_SERVER_STATUS_H_
#define STACHE_SERVER_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stache::server {

// absl status codes are gRPC's codes, so the mapping is one to one. An
// error also carries its reason (server/error_reason.h) as a
// google.rpc.ErrorInfo in the details, and FromGrpcStatus takes it back.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace stache::server

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

#endif  // STACHE_SERVER_STATUS_H_
