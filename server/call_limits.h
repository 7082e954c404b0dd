// Admission and time limits for the calls a GrpcServer serves, counted by
// kind so that one kind cannot starve another: idle reflection streams or a
// slow upload cannot take the threads unary work needs, and streams that
// stop sending end.
//
//   CallLimiter limiter({.max_work_calls = 32, .max_streams = 16});
//   absl::StatusOr<uint64_t> id = limiter.Admit(CallKind::kStream,
//   absl::InfiniteFuture(),
//                                               [&](const absl::Status& s) { Cancel(s);
//                                               });
//   limiter.Touch(*id);    // a message went either way
//   limiter.Release(*id);  // the call is over
#ifndef STACHE_SERVER_CALL_LIMITS_H_
#define STACHE_SERVER_CALL_LIMITS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stache::server {

enum class CallKind {
  // Unary calls: the API's own and InfoService.GetInfo.
  kWork,
  // Streaming calls of the service's own API (storage Put and Get).
  kStream,
  // grpc.* streams other than health Watch: server reflection.
  kControlStream,
  // grpc.health.v1.Health/Watch: idle by design (it only speaks on a
  // change), served by gRPC's own service without a thread of ours. Counted,
  // never refused (so that streams of an attacker cannot keep clients from
  // watching health) and never timed out.
  kHealthWatch,
  // grpc.health.v1.Health/Check: answered by gRPC's own service without a
  // thread of ours; never refused, so that probes see health, not load.
  kHealthCheck,
};

// "work", "stream", "control_stream", "health_watch", "health_check".
const char* CallKindName(CallKind kind);

// The kind of a call to `service`/`method` ("grpc.health.v1.Health", "Watch").
CallKind ClassifyCall(absl::string_view service, absl::string_view method,
                      bool streaming);

struct CallLimits {
  // Calls of each kind handled at once; 0 means no limit.
  int max_work_calls = 0;
  int max_streams = 0;
  // Reflection streams (grpc.* streams other than health Watch).
  int max_control_streams = 0;
  // Unary calls whose client set no deadline end (DEADLINE_EXCEEDED) after
  // this long.
  absl::Duration default_call_deadline = absl::Seconds(30);
  // Streams whose client set no deadline end after this long.
  absl::Duration default_stream_deadline = absl::Minutes(5);
  // Streams end when no message went either way for this long.
  absl::Duration stream_idle_timeout = absl::Seconds(30);
};

// Rejects impossible values with a message naming the flag.
absl::Status ValidateCallLimits(const CallLimits& limits);

// Counts calls by kind and ends those past their deadline or idle for too
// long, from a watchdog thread of its own. Thread-safe. The `end` functions
// given to Admit are called without any lock held, at most once each, and
// possibly after Release (they must keep what they need alive themselves).
class CallLimiter final {
 public:
  // Ends a call with a status (DEADLINE_EXCEEDED with a message).
  using EndCall = std::function<void(const absl::Status&)>;

  explicit CallLimiter(CallLimits limits);
  ~CallLimiter();
  CallLimiter(const CallLimiter&) = delete;
  CallLimiter& operator=(const CallLimiter&) = delete;

  // Counts a new call; RESOURCE_EXHAUSTED naming the limit when its kind is
  // full. `client_deadline` is the call's own (InfiniteFuture when none).
  absl::StatusOr<uint64_t> Admit(CallKind kind, absl::Time client_deadline, EndCall end);
  // A message was received or sent: the idle timer starts again.
  void Touch(uint64_t id);
  // The call is over (idempotent). Returns the status the watchdog ended it
  // with, OK when it did not.
  absl::Status Release(uint64_t id);
  // The status the watchdog ended a live call with, OK when it did not.
  absl::Status EndedWith(uint64_t id) const;

  // Calls of `kind` admitted and not yet released.
  int InFlight(CallKind kind) const;

  const CallLimits& limits() const { return limits_; }

 private:
  struct Entry {
    CallKind kind;
    absl::Time deadline;          // InfiniteFuture: none of ours
    absl::Duration idle_timeout;  // InfiniteDuration: none
    absl::Time last_activity;
    EndCall end;
    absl::Status ended;
  };

  // Index into in_flight_.
  static int Bucket(CallKind kind);
  int LimitOf(CallKind kind) const;
  void WatchLoop();

  const CallLimits limits_;
  mutable absl::Mutex mutex_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Time next_check_ ABSL_GUARDED_BY(mutex_) = absl::InfiniteFuture();
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  int in_flight_[5] ABSL_GUARDED_BY(mutex_) = {0, 0, 0, 0, 0};
  std::map<uint64_t, Entry> calls_ ABSL_GUARDED_BY(mutex_);
  std::thread watchdog_;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_CALL_LIMITS_H_
