// The boundary every synchronous gRPC handler of stache runs its body
// through, so that each service behaves the same way at the edge:
//  - a call the server already refused or ended (busy, idle, past its
//    deadline) or that the client cancelled does no work;
//  - an absl::Status becomes the grpc::Status (one conversion, status.h);
//  - an exception thrown by any library inside becomes INTERNAL with the
//    request id, logged once, never a crash.
//
//   grpc::Status DetectorServiceImpl::Detect(grpc::ServerContext* context, ...) {
//     return server::HandleCall(*context, [&]() -> absl::Status { ... });
//   }
#ifndef STACHE_SERVER_CALL_HANDLER_H_
#define STACHE_SERVER_CALL_HANDLER_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "server/call_deadline.h"

namespace stache::server {

grpc::Status HandleCall(grpc::ServerContextBase& context,
                        absl::FunctionRef<absl::Status()> body);

// The call's deadline (the client's, or none: the server's default deadline
// ends the call through cancellation) and its cancellation, for core code.
// Valid while the handler runs.
CallDeadline DeadlineOf(const grpc::ServerContextBase& context);

}  // namespace stache::server

#endif  // STACHE_SERVER_CALL_HANDLER_H_
