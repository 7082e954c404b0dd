// The identity of one request as it crosses services: a request id (an
// incoming X-Request-Id, else a new one) and a W3C trace context
// (`traceparent`). The gateway makes or honours them; every gRPC call carries
// them as metadata ("x-request-id", "traceparent"); every log line about the
// request names them.
//
//   RequestContext request = RequestContext::FromMetadata(context->client_metadata());
//   LogWarning("decode failed", request.WithLogFields({{"error", message}}));
//   request.ChildSpan().AttachTo(&client_context);  // when calling onwards
#ifndef STACHE_SERVER_REQUEST_CONTEXT_H_
#define STACHE_SERVER_REQUEST_CONTEXT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "server/log.h"

namespace stache::server {

inline constexpr char kRequestIdMetadata[] = "x-request-id";
inline constexpr char kTraceparentMetadata[] = "traceparent";

// True for a well-formed W3C traceparent of version 00:
// "00-<32 hex trace id, not all 0>-<16 hex span id, not all 0>-<2 hex flags>".
bool IsValidTraceparent(absl::string_view traceparent);

// A request id a person can read back from logs: 32 random hex characters.
std::string NewRequestId();

// A call's received metadata, as ServerContext::client_metadata() and
// server interceptors see it.
using ReceivedMetadata = std::multimap<grpc::string_ref, grpc::string_ref>;
// The value of `key` in `metadata`; "" when absent.
std::string MetadataValue(const ReceivedMetadata& metadata, absl::string_view key);

class RequestContext final {
 public:
  RequestContext() = default;
  RequestContext(std::string request_id, std::string traceparent)
      : request_id_(std::move(request_id)), traceparent_(std::move(traceparent)) {}

  // From an incoming request's values: keeps a plain request id (1..128 of
  // [A-Za-z0-9-_.:]) and a valid traceparent; makes new ones for
  // what is missing or malformed (a new trace when the traceparent is bad).
  static RequestContext FromIncoming(absl::string_view request_id,
                                     absl::string_view traceparent);
  // From a gRPC call's metadata, as FromIncoming.
  static RequestContext FromMetadata(const ReceivedMetadata& metadata);

  const std::string& request_id() const { return request_id_; }
  const std::string& traceparent() const { return traceparent_; }
  // The 32-hex trace id inside the traceparent.
  std::string trace_id() const;

  // The same trace with a new span id, for an outgoing call.
  RequestContext ChildSpan() const;
  // Adds both as metadata of an outgoing gRPC call.
  void AttachTo(grpc::ClientContext* context) const;
  // `fields` (a JSON object or null) plus request_id and traceparent.
  LogFields WithLogFields(LogFields fields = nullptr) const;

 private:
  std::string request_id_;
  std::string traceparent_;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_REQUEST_CONTEXT_H_
