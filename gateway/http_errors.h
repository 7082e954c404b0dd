// Errors on the HTTP side: the one table from gRPC status codes (which are
// absl's) to HTTP status codes, the standard one grpc-gateway and Envoy use,
// and the JSON error body
//   {"error": {"code": 404, "status": "NOT_FOUND", "reason": "NOT_FOUND",
//              "message": "..."}}
// where "reason" is the stable reason of server/error_reason.h (a backend's
// google.rpc.ErrorInfo reason, passed on).
//
//   const int http_status = HttpStatusForCode(status.code());
//   response.set_content(ErrorBody(http_status, status).dump(), "application/json");
#ifndef STACHE_GATEWAY_HTTP_ERRORS_H_
#define STACHE_GATEWAY_HTTP_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace stache::gateway {

// OK 200, CANCELLED 499, UNKNOWN 500, INVALID_ARGUMENT 400,
// DEADLINE_EXCEEDED 504, NOT_FOUND 404, ALREADY_EXISTS 409,
// PERMISSION_DENIED 403, UNAUTHENTICATED 401, RESOURCE_EXHAUSTED 429,
// FAILED_PRECONDITION 400, ABORTED 409, OUT_OF_RANGE 400, UNIMPLEMENTED 501,
// INTERNAL 500, UNAVAILABLE 503, DATA_LOSS 500.
int HttpStatusForCode(absl::StatusCode code);

// The HTTP status for `status`: by its code, except where its reason has an
// HTTP status of its own (NOT_AN_IMAGE: 415).
int HttpStatusFor(const absl::Status& status);

// `http_status` is usually HttpStatusForCode(status.code()); the adapter
// passes 413, 415 or 400 itself for what only HTTP can get wrong (body size,
// media type, multipart framing), with the status saying the gRPC-side code.
// The message is PublicErrorMessage's; `request_id`, when given, is added as
// "request_id" so that a person can quote it.
nlohmann::json ErrorBody(int http_status, const absl::Status& status,
                         const std::string& request_id = "");

// What an error body may say: the status's message without URLs, network
// addresses (host:port, IPs, gRPC's "ipv4:..." peers) and, for server-side
// errors (5xx), absolute file paths; internal errors (500, INTERNAL,
// UNKNOWN, DATA_LOSS) say only that one happened: the details are logged
// under the request id, never sent.
std::string PublicErrorMessage(int http_status, const absl::Status& status);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_HTTP_ERRORS_H_
