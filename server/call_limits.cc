#include "server/call_limits.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace stache::server {
namespace {

// The watchdog looks at least this often, so a clock step cannot make it
// sleep through a deadline for long.
constexpr absl::Duration kMaxWatchInterval = absl::Seconds(1);

const char* LimitFlag(CallKind kind) {
  switch (kind) {
    case CallKind::kWork:
      return "--max_concurrent_calls";
    case CallKind::kStream:
      return "--max_concurrent_streams";
    default:
      return "--max_control_streams";
  }
}

const char* LimitNoun(CallKind kind) {
  switch (kind) {
    case CallKind::kWork:
      return "calls";
    case CallKind::kStream:
      return "streams";
    default:
      return "reflection streams";
  }
}

}  // namespace

const char* CallKindName(CallKind kind) {
  switch (kind) {
    case CallKind::kWork:
      return "work";
    case CallKind::kStream:
      return "stream";
    case CallKind::kControlStream:
      return "control_stream";
    case CallKind::kHealthWatch:
      return "health_watch";
    case CallKind::kHealthCheck:
      return "health_check";
  }
  return "unknown";
}

CallKind ClassifyCall(absl::string_view service, absl::string_view method,
                      bool streaming) {
  if (service == "grpc.health.v1.Health") {
    return method == "Watch" ? CallKind::kHealthWatch : CallKind::kHealthCheck;
  }
  if (!streaming) return CallKind::kWork;
  return service.rfind("grpc.", 0) == 0 ? CallKind::kControlStream : CallKind::kStream;
}

absl::Status ValidateCallLimits(const CallLimits& limits) {
  if (limits.max_work_calls < 0) {
    return absl::InvalidArgumentError("--max_concurrent_calls must not be negative");
  }
  if (limits.max_streams < 0) {
    return absl::InvalidArgumentError("--max_concurrent_streams must not be negative");
  }
  if (limits.max_control_streams < 0) {
    return absl::InvalidArgumentError("--max_control_streams must not be negative");
  }
  if (limits.default_call_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--default_call_deadline must be positive");
  }
  if (limits.default_stream_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--default_stream_deadline must be positive");
  }
  if (limits.stream_idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--stream_idle_timeout must be positive");
  }
  return absl::OkStatus();
}

CallLimiter::CallLimiter(CallLimits limits)
    : limits_(std::move(limits)), watchdog_([this] { WatchLoop(); }) {}

CallLimiter::~CallLimiter() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    wake_.Signal();
  }
  watchdog_.join();
}

int CallLimiter::Bucket(CallKind kind) {
  switch (kind) {
    case CallKind::kWork:
      return 0;
    case CallKind::kStream:
      return 1;
    case CallKind::kControlStream:
      return 2;
    case CallKind::kHealthWatch:
      return 3;
    case CallKind::kHealthCheck:
      return 4;
  }
  return 4;
}

int CallLimiter::LimitOf(CallKind kind) const {
  switch (kind) {
    case CallKind::kWork:
      return limits_.max_work_calls;
    case CallKind::kStream:
      return limits_.max_streams;
    case CallKind::kControlStream:
      return limits_.max_control_streams;
    case CallKind::kHealthWatch:
    case CallKind::kHealthCheck:
      return 0;
  }
  return 0;
}

absl::StatusOr<uint64_t> CallLimiter::Admit(CallKind kind, absl::Time client_deadline,
                                            EndCall end) {
  const absl::Time now = absl::Now();
  Entry entry{.kind = kind,
              .deadline = absl::InfiniteFuture(),
              .idle_timeout = absl::InfiniteDuration(),
              .last_activity = now,
              .end = std::move(end),
              .ended = absl::OkStatus()};
  // gRPC itself ends a call at the client's deadline; ours applies only to
  // calls that came without one.
  const bool has_deadline = client_deadline != absl::InfiniteFuture();
  switch (kind) {
    case CallKind::kWork:
      if (!has_deadline) entry.deadline = now + limits_.default_call_deadline;
      break;
    case CallKind::kStream:
    case CallKind::kControlStream:
      if (!has_deadline) entry.deadline = now + limits_.default_stream_deadline;
      entry.idle_timeout = limits_.stream_idle_timeout;
      break;
    case CallKind::kHealthWatch:
    case CallKind::kHealthCheck:
      break;
  }
  const absl::Time first_check =
      std::min(entry.deadline, entry.idle_timeout == absl::InfiniteDuration()
                                   ? absl::InfiniteFuture()
                                   : now + entry.idle_timeout);

  absl::MutexLock lock(&mutex_);
  const int limit = LimitOf(kind);
  int& in_flight = in_flight_[Bucket(kind)];
  if (limit > 0 && in_flight >= limit) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server is busy: ", in_flight, " ", LimitNoun(kind),
        " are in progress, its limit (", LimitFlag(kind), "); try again later"));
  }
  ++in_flight;
  const uint64_t id = next_id_++;
  calls_.emplace(id, std::move(entry));
  if (first_check < next_check_) wake_.Signal();
  return id;
}

void CallLimiter::Touch(uint64_t id) {
  absl::MutexLock lock(&mutex_);
  auto it = calls_.find(id);
  if (it != calls_.end()) it->second.last_activity = absl::Now();
}

absl::Status CallLimiter::Release(uint64_t id) {
  EndCall end;  // destroyed after the lock is released
  absl::Status ended;
  {
    absl::MutexLock lock(&mutex_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return absl::OkStatus();
    --in_flight_[Bucket(it->second.kind)];
    end = std::move(it->second.end);
    ended = std::move(it->second.ended);
    calls_.erase(it);
  }
  return ended;
}

absl::Status CallLimiter::EndedWith(uint64_t id) const {
  absl::MutexLock lock(&mutex_);
  auto it = calls_.find(id);
  return it == calls_.end() ? absl::OkStatus() : it->second.ended;
}

int CallLimiter::InFlight(CallKind kind) const {
  absl::MutexLock lock(&mutex_);
  return in_flight_[Bucket(kind)];
}

void CallLimiter::WatchLoop() {
  absl::MutexLock lock(&mutex_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    absl::Time next = now + kMaxWatchInterval;
    std::vector<std::pair<EndCall, absl::Status>> to_end;
    for (auto& [id, entry] : calls_) {
      if (!entry.ended.ok()) continue;
      if (now >= entry.deadline) {
        entry.ended = absl::DeadlineExceededError(
            entry.kind == CallKind::kWork
                ? absl::StrCat("the call took longer than ",
                               absl::FormatDuration(limits_.default_call_deadline),
                               ", the server's limit for calls without a deadline")
                : absl::StrCat("the stream lasted longer than ",
                               absl::FormatDuration(limits_.default_stream_deadline),
                               ", the server's limit for streams without a deadline"));
      } else if (entry.idle_timeout != absl::InfiniteDuration() &&
                 now >= entry.last_activity + entry.idle_timeout) {
        entry.ended = absl::DeadlineExceededError(absl::StrCat(
            "the stream was idle (no message either way) for ",
            absl::FormatDuration(entry.idle_timeout), "; the server ended it"));
      } else {
        next = std::min(next, entry.deadline);
        if (entry.idle_timeout != absl::InfiniteDuration()) {
          next = std::min(next, entry.last_activity + entry.idle_timeout);
        }
        continue;
      }
      to_end.emplace_back(entry.end, entry.ended);
    }
    if (!to_end.empty()) {
      // Never call into gRPC with the lock held: ending a call may run the
      // call's completion (and Release) on this thread.
      mutex_.Unlock();
      for (auto& [end, status] : to_end) {
        if (end) end(status);
      }
      to_end.clear();
      mutex_.Lock();
      continue;
    }
    next_check_ = next;
    wake_.WaitWithDeadline(&mutex_, next);
    next_check_ = absl::InfiniteFuture();
  }
}

}  // namespace stache::server
