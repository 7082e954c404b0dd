// A token bucket per client: `tokens_per_minute` refill, at most `burst`
// saved up. The table of buckets is bounded (the least recently seen client
// is forgotten first, which only gives it a full bucket), so clients that
// keep changing address cost bounded memory. No HTTP here; time comes from
// a clock function that tests replace.
//
//   RateLimiter limiter({.tokens_per_minute = 30, .burst = 10});
//   RateDecision decision = limiter.Take("203.0.113.9");
//   if (!decision.allowed) ...  // 429, Retry-After: decision.retry_after
#ifndef STACHE_GATEWAY_RATE_LIMITER_H_
#define STACHE_GATEWAY_RATE_LIMITER_H_

#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace stache::gateway {

struct RateLimit {
  double tokens_per_minute = 30;
  int burst = 10;
  // Clients remembered at once.
  size_t max_clients = 10'000;
};

// INVALID_ARGUMENT unless the rate and burst are positive (and the burst at
// most a million) and max_clients is positive.
absl::Status ValidateRateLimit(const RateLimit& limit);

struct RateDecision {
  bool allowed = true;
  // When refused: how long until a token is available (whole seconds,
  // rounded up, at least one).
  absl::Duration retry_after;
};

// Thread-safe.
class RateLimiter final {
 public:
  explicit RateLimiter(RateLimit limit, std::function<absl::Time()> clock = &absl::Now);

  // Takes a token from `client`'s bucket, if it has one.
  RateDecision Take(const std::string& client);

  size_t tracked_clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    std::list<std::string>::iterator recency;
  };

  const RateLimit limit_;
  const std::function<absl::Time()> clock_;
  mutable absl::Mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mutex_);
  // Most recently seen first.
  std::list<std::string> recency_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_RATE_LIMITER_H_
