// When the work done for one call must stop: the call's deadline and whether
// its caller has gone away. Plain C++ (no gRPC types), so that core libraries
// can take it from their gRPC adapter and check it between stages.
//
//   server::CallDeadline deadline{.deadline = absl::Now() + absl::Seconds(30),
//                                 .cancelled = [&] { return context->IsCancelled(); }};
//   STACHE_RETURN_IF_ERROR(deadline.Check("decode"));
#ifndef STACHE_SERVER_CALL_DEADLINE_H_
#define STACHE_SERVER_CALL_DEADLINE_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::server {

// A value type; copies share the `cancelled` predicate, which must be safe to
// call from the thread doing the work for as long as the work runs.
struct CallDeadline {
  absl::Time deadline = absl::InfiniteFuture();
  // True once the caller cancelled (or the server ended the call); empty
  // means never.
  std::function<bool()> cancelled;

  // OK while the work may go on; CANCELLED or DEADLINE_EXCEEDED naming the
  // stage that would have come next ("detect", "draw face 3").
  absl::Status Check(absl::string_view next_stage) const;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_CALL_DEADLINE_H_
