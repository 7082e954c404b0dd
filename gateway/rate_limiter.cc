#include "gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace stache::gateway {

absl::Status ValidateRateLimit(const RateLimit& limit) {
  if (!(limit.tokens_per_minute > 0) || limit.burst < 1 || limit.burst > 1'000'000) {
    return absl::InvalidArgumentError(
        "--upload_rate must be positive and --upload_burst between 1 and 1000000");
  }
  if (limit.max_clients < 1) {
    return absl::InvalidArgumentError(
        "the rate limiter must remember at least one client");
  }
  return absl::OkStatus();
}

RateLimiter::RateLimiter(RateLimit limit, std::function<absl::Time()> clock)
    : limit_(limit), clock_(std::move(clock)) {}

RateDecision RateLimiter::Take(const std::string& client) {
  const absl::Time now = clock_();
  const double per_second = limit_.tokens_per_minute / 60.0;
  absl::MutexLock lock(&mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.max_clients) {
      // Forgetting the least recently seen client costs it nothing but a
      // refill it would mostly have had anyway.
      buckets_.erase(recency_.back());
      recency_.pop_back();
    }
    recency_.push_front(client);
    it = buckets_
             .emplace(client, Bucket{.tokens = static_cast<double>(limit_.burst),
                                     .updated = now,
                                     .recency = recency_.begin()})
             .first;
  } else {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
  }
  Bucket& bucket = it->second;
  // A clock that steps back refills nothing rather than draining.
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  bucket.tokens = std::min<double>(limit_.burst, bucket.tokens + elapsed * per_second);
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return RateDecision{.allowed = true};
  }
  // Rounded up, less a hair so that floating point error (5.9999 or
  // 6.0001 for 6) does not add a second.
  const double wait_seconds = std::ceil((1.0 - bucket.tokens) / per_second - 1e-6);
  return RateDecision{.allowed = false,
                      .retry_after = absl::Seconds(std::max(1.0, wait_seconds))};
}

size_t RateLimiter::tracked_clients() const {
  absl::MutexLock lock(&mutex_);
  return buckets_.size();
}

}  // namespace stache::gateway
