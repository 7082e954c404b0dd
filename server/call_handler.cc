#include "server/call_handler.h"

#include <chrono>
#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/grpc_metadata.h"
#include "server/log.h"
#include "server/status.h"

namespace stache::server {
namespace {

grpc::Status InternalError(const grpc::ServerContextBase& context, const char* what) {
  // The observer puts the request id it logs and echoes into the metadata,
  // so this is the id the caller sees in the trailers.
  const std::string request_id =
      MetadataValue(context.client_metadata(), kRequestIdMetadata);
  LogError("a library threw inside a handler",
           {{"request_id", request_id}, {"error", what}});
  return ToGrpcStatus(absl::InternalError(
      absl::StrCat("internal error; the server logged it with request id ", request_id)));
}

}  // namespace

grpc::Status HandleCall(grpc::ServerContextBase& context,
                        absl::FunctionRef<absl::Status()> body) {
  // Refused or ended calls still reach the handler in gRPC's synchronous
  // API; the client already has its status, so no work is done.
  if (context.IsCancelled()) {
    return ToGrpcStatus(absl::CancelledError("the call was cancelled before it started"));
  }
  try {
    return ToGrpcStatus(body());
  } catch (const std::exception& e) {
    return InternalError(context, e.what());
  } catch (...) {
    return InternalError(context, "an exception that is not a std::exception");
  }
}

CallDeadline DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  return CallDeadline{.deadline = deadline == std::chrono::system_clock::time_point::max()
                                      ? absl::InfiniteFuture()
                                      : absl::FromChrono(deadline),
                      .cancelled = [&context] { return context.IsCancelled(); }};
}

}  // namespace stache::server
