// Status at the gRPC edge: one conversion each way between absl::Status (used
// everywhere inside) and grpc::Status. The STACHE_* macros come along
// (server/status_macros.h, which core libraries include directly).
//
//   return stache::server::ToGrpcStatus(status);
#ifndef STACHE_SERVER_STATUS_H_
#define STACHE_SERVER_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/status_macros.h"

namespace stache::server {

// absl status codes are gRPC's codes, so the mapping is one to one. An
// error also carries its reason (server/error_reason.h) as a
// google.rpc.ErrorInfo in the details, and FromGrpcStatus takes it back.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace stache::server

#endif  // STACHE_SERVER_STATUS_H_
