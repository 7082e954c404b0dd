// A stable, machine-readable reason on an absl::Status, for callers that
// branch on the cause of an error rather than parse its message. At the gRPC
// edge it travels as a google.rpc.ErrorInfo (domain "stache") in the status
// details (server/status.h); the gateway shows it as "reason" in its REST
// error body. Plain absl, so core libraries can set reasons too.
//
//   return WithReason(absl::InvalidArgumentError("..."), kReasonUnknownEnumValue);
//   if (ReasonOf(status) == kReasonUnknownStyle) ...
//
// Reasons are part of the API contract: never renamed or reused, only added.
// Upper-case snake case, at most 63 characters (google.rpc.ErrorInfo's rule).
#ifndef STACHE_SERVER_ERROR_REASON_H_
#define STACHE_SERVER_ERROR_REASON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace stache::server {

// The ErrorInfo domain of every stache reason.
inline constexpr absl::string_view kErrorDomain = "stache";

// A request carried an enum value this server does not know (a newer
// client's); it is refused rather than read as the default.
inline constexpr absl::string_view kReasonUnknownEnumValue = "UNKNOWN_ENUM_VALUE";
// A request set a oneof member this server does not know.
inline constexpr absl::string_view kReasonUnknownOneofMember = "UNKNOWN_ONEOF_MEMBER";
// OverlayService.Apply: a style that ListStyles does not offer.
inline constexpr absl::string_view kReasonUnknownStyle = "UNKNOWN_STYLE";
// An option out of its documented range (quality, scale, colour, ...).
inline constexpr absl::string_view kReasonOptionOutOfRange = "OPTION_OUT_OF_RANGE";
// The bytes are not an image in a format stache reads (the gateway answers
// 415 Unsupported Media Type).
inline constexpr absl::string_view kReasonNotAnImage = "NOT_AN_IMAGE";
// The image bytes are over the server's byte limit.
inline constexpr absl::string_view kReasonImageTooLarge = "IMAGE_TOO_LARGE";

// `status` with `reason` attached (replacing any earlier one). OK stays OK.
absl::Status WithReason(absl::Status status, absl::string_view reason);

// The reason attached to `status`; without one, the status code's name
// ("INVALID_ARGUMENT"), so every error has a reason. Empty for OK.
std::string ReasonOf(const absl::Status& status);

}  // namespace stache::server

#endif  // STACHE_SERVER_ERROR_REASON_H_
