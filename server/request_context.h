// The identity of one request as it crosses services: a request id (an
// incoming X-Request-Id, else a new one) and a W3C trace context
// (`traceparent`). The gateway makes or honours them; every gRPC call carries
// them as metadata ("x-request-id", "traceparent"; server/grpc_metadata.h
// reads and attaches them); every log line about the request names them.
// No gRPC here: core libraries take a RequestContext as a plain value.
//
//   RequestContext request = RequestContext::FromIncoming(request_id, traceparent);
//   LogWarning("decode failed", request.WithLogFields({{"error", message}}));
//   RequestContext onwards = request.ChildSpan();  // when calling onwards
#ifndef STACHE_SERVER_REQUEST_CONTEXT_H_
#define STACHE_SERVER_REQUEST_CONTEXT_H_

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

  const std::string& request_id() const { return request_id_; }
  const std::string& traceparent() const { return traceparent_; }
  // The 32-hex trace id inside the traceparent.
  std::string trace_id() const;

  // The same trace with a new span id, for an outgoing call.
  RequestContext ChildSpan() const;
  // `fields` (a JSON object or null) plus request_id and traceparent.
  LogFields WithLogFields(LogFields fields = nullptr) const;

 private:
  std::string request_id_;
  std::string traceparent_;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_REQUEST_CONTEXT_H_
