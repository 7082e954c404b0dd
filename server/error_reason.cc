#include "server/error_reason.h"

#include "absl/strings/cord.h"

namespace stache::server {
namespace {

// Not a type URL: the payload is the reason's text, not a serialized
// message; status.cc turns it into a google.rpc.ErrorInfo at the edge.
constexpr absl::string_view kReasonPayload = "stache.dev/error-reason";

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

std::string ReasonOf(const absl::Status& status) {
  if (status.ok()) return "";
  if (auto reason = status.GetPayload(kReasonPayload); reason.has_value()) {
    return std::string(*reason);
  }
  return absl::StatusCodeToString(status.code());
}

}  // namespace stache::server
