// The upload rate limit: a token bucket per client on a fake clock.
#include "gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace stache::gateway {
namespace {

class RateLimiterTest : public ::testing::Test {
 protected:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::function<absl::Time()> clock_ = [this] { return now_; };
};

TEST_F(RateLimiterTest, ABurstThenOnePerIntervalWithRetryAfter) {
  RateLimiter limiter({.tokens_per_minute = 6, .burst = 3}, clock_);  // one per 10 s
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("a").allowed) << i;
  RateDecision refused = limiter.Take("a");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Seconds(10));
  now_ += absl::Seconds(4);
  refused = limiter.Take("a");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Seconds(6)) << "rounded up, what is left";
  now_ += absl::Seconds(6);
  EXPECT_TRUE(limiter.Take("a").allowed) << "recovered once a token refilled";
  EXPECT_FALSE(limiter.Take("a").allowed);
  // Refills stop at the burst.
  now_ += absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("a").allowed) << i;
  EXPECT_FALSE(limiter.Take("a").allowed);
}

TEST_F(RateLimiterTest, ClientsHaveTheirOwnBuckets) {
  RateLimiter limiter({.tokens_per_minute = 1, .burst = 1}, clock_);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_FALSE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("b").allowed);
}

TEST_F(RateLimiterTest, TheTableIsBoundedAndForgetsTheLeastRecentlySeen) {
  RateLimiter limiter({.tokens_per_minute = 1, .burst = 1, .max_clients = 100}, clock_);
  EXPECT_TRUE(limiter.Take("kept").allowed);
  for (int i = 0; i < 10'000; ++i) {
    if (i % 50 == 0) {
      EXPECT_FALSE(limiter.Take("kept").allowed) << "still remembered";
    }
    limiter.Take(absl::StrCat("spoofed-", i));
    ASSERT_LE(limiter.tracked_clients(), 100u);
  }
  EXPECT_EQ(limiter.tracked_clients(), 100u);
}

TEST_F(RateLimiterTest, AClockSteppingBackDoesNotRefill) {
  RateLimiter limiter({.tokens_per_minute = 60, .burst = 1}, clock_);
  EXPECT_TRUE(limiter.Take("a").allowed);
  now_ -= absl::Hours(1);
  EXPECT_FALSE(limiter.Take("a").allowed);
  now_ += absl::Hours(1) + absl::Seconds(1);
  EXPECT_TRUE(limiter.Take("a").allowed);
}

TEST(RateLimitTest, NonsenseLimitsAreRefused) {
  EXPECT_TRUE(ValidateRateLimit({.tokens_per_minute = 30, .burst = 10}).ok());
  EXPECT_FALSE(ValidateRateLimit({.tokens_per_minute = 0, .burst = 10}).ok());
  EXPECT_FALSE(ValidateRateLimit({.tokens_per_minute = 30, .burst = 0}).ok());
  EXPECT_FALSE(ValidateRateLimit({.tokens_per_minute = -1, .burst = 1}).ok());
}

}  // namespace
}  // namespace stache::gateway
