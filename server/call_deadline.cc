#include "server/call_deadline.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace stache::server {

absl::Status CallDeadline::Check(absl::string_view next_stage) const {
  if (cancelled && cancelled()) {
    return absl::CancelledError(
        absl::StrCat("the call was cancelled; stopped before ", next_stage));
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("the call's deadline passed; stopped before ", next_stage));
  }
  return absl::OkStatus();
}

}  // namespace stache::server
