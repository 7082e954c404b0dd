#include "server/call_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;

// Records how the limiter ended a call.
struct Ending {
  absl::Mutex mutex;
  absl::Status status ABSL_GUARDED_BY(mutex);
  std::atomic<int> count{0};

  CallLimiter::EndCall Function() {
    return [this](const absl::Status& ended) {
      absl::MutexLock lock(&mutex);
      status = ended;
      ++count;
    };
  }
  absl::Status Status() {
    absl::MutexLock lock(&mutex);
    return status;
  }
};

CallLimits Limits() {
  return CallLimits{.max_work_calls = 2,
                    .max_streams = 1,
                    .max_control_streams = 1,
                    .default_call_deadline = absl::Seconds(60),
                    .default_stream_deadline = absl::Seconds(60),
                    .stream_idle_timeout = absl::Seconds(60)};
}

TEST(CallLimitsTest, ClassifiesCallsByServiceAndShape) {
  EXPECT_EQ(ClassifyCall("stache.detector.v1.DetectorService", "Detect", false),
            CallKind::kWork);
  EXPECT_EQ(ClassifyCall("stache.info.v1.InfoService", "GetInfo", false),
            CallKind::kWork);
  EXPECT_EQ(ClassifyCall("stache.storage.v1.StorageService", "Put", true),
            CallKind::kStream);
  EXPECT_EQ(ClassifyCall("grpc.reflection.v1alpha.ServerReflection",
                         "ServerReflectionInfo", true),
            CallKind::kControlStream);
  EXPECT_EQ(ClassifyCall("grpc.health.v1.Health", "Watch", true), CallKind::kHealthWatch);
  EXPECT_EQ(ClassifyCall("grpc.health.v1.Health", "Check", false),
            CallKind::kHealthCheck);
}

TEST(CallLimitsTest, EachKindIsLimitedOnItsOwn) {
  CallLimiter limiter(Limits());
  const absl::Time none = absl::InfiniteFuture();
  // Full streams and control streams do not take from unary work.
  ASSERT_THAT(limiter.Admit(CallKind::kStream, none, nullptr), IsOk());
  ASSERT_THAT(limiter.Admit(CallKind::kControlStream, none, nullptr), IsOk());
  EXPECT_THAT(limiter.Admit(CallKind::kStream, none, nullptr),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("--max_concurrent_streams")));
  EXPECT_THAT(
      limiter.Admit(CallKind::kControlStream, none, nullptr),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_control_streams")));
  absl::StatusOr<uint64_t> first = limiter.Admit(CallKind::kWork, none, nullptr);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(limiter.Admit(CallKind::kWork, none, nullptr), IsOk());
  EXPECT_THAT(limiter.Admit(CallKind::kWork, none, nullptr),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("--max_concurrent_calls")));
  // Health is never refused: gRPC serves it without our threads, and
  // clients that watch health must not be locked out by other streams.
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(limiter.Admit(CallKind::kHealthCheck, none, nullptr), IsOk());
    EXPECT_THAT(limiter.Admit(CallKind::kHealthWatch, none, nullptr), IsOk());
  }
  EXPECT_EQ(limiter.InFlight(CallKind::kHealthWatch), 10);
  EXPECT_EQ(limiter.InFlight(CallKind::kWork), 2);
  // Released capacity is available again; Release is idempotent.
  EXPECT_THAT(limiter.Release(*first), IsOk());
  EXPECT_THAT(limiter.Release(*first), IsOk());
  EXPECT_EQ(limiter.InFlight(CallKind::kWork), 1);
  EXPECT_THAT(limiter.Admit(CallKind::kWork, none, nullptr), IsOk());
}

TEST(CallLimitsTest, ZeroMeansNoLimit) {
  CallLimiter limiter(CallLimits{});
  for (int i = 0; i < 100; ++i) {
    ASSERT_THAT(limiter.Admit(CallKind::kControlStream, absl::InfiniteFuture(), nullptr),
                IsOk());
  }
}

TEST(CallLimitsTest, AnIdleStreamIsEndedAndAnActiveOneIsNot) {
  CallLimits limits = Limits();
  limits.stream_idle_timeout = absl::Milliseconds(300);
  CallLimiter limiter(limits);
  Ending idle;
  Ending active;
  absl::StatusOr<uint64_t> idle_id =
      limiter.Admit(CallKind::kControlStream, absl::InfiniteFuture(), idle.Function());
  absl::StatusOr<uint64_t> active_id =
      limiter.Admit(CallKind::kStream, absl::InfiniteFuture(), active.Function());
  ASSERT_THAT(idle_id, IsOk());
  ASSERT_THAT(active_id, IsOk());
  const absl::Time start = absl::Now();
  // The active stream moves a message every 50 ms for a second.
  while (absl::Now() - start < absl::Seconds(1)) {
    limiter.Touch(*active_id);
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(idle.count, 1);
  EXPECT_THAT(idle.Status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("idle")));
  EXPECT_THAT(limiter.EndedWith(*idle_id),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  EXPECT_EQ(active.count, 0);
  // The ended call still counts until it is released; then it says why it ended.
  EXPECT_EQ(limiter.InFlight(CallKind::kControlStream), 1);
  EXPECT_THAT(limiter.Release(*idle_id),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  EXPECT_EQ(limiter.InFlight(CallKind::kControlStream), 0);
  EXPECT_THAT(limiter.Release(*active_id), IsOk());
}

TEST(CallLimitsTest, CallsWithoutADeadlineGetTheDefaultOne) {
  CallLimits limits = Limits();
  limits.default_call_deadline = absl::Milliseconds(200);
  CallLimiter limiter(limits);
  Ending without;
  Ending with;
  ASSERT_THAT(limiter.Admit(CallKind::kWork, absl::InfiniteFuture(), without.Function()),
              IsOk());
  // gRPC itself enforces a deadline the client set; the limiter adds none.
  ASSERT_THAT(limiter.Admit(CallKind::kWork, absl::Now() + absl::Milliseconds(100),
                            with.Function()),
              IsOk());
  ASSERT_TRUE(WaitFor([&] { return without.count == 1; }, absl::Seconds(5)));
  EXPECT_THAT(without.Status(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                         HasSubstr("without a deadline")));
  EXPECT_EQ(with.count, 0);
}

TEST(CallLimitsTest, HealthWatchStreamsAreNeverTimedOut) {
  CallLimits limits = Limits();
  limits.stream_idle_timeout = absl::Milliseconds(100);
  limits.default_stream_deadline = absl::Milliseconds(100);
  CallLimiter limiter(limits);
  Ending watch;
  Ending reflection;
  ASSERT_THAT(
      limiter.Admit(CallKind::kHealthWatch, absl::InfiniteFuture(), watch.Function()),
      IsOk());
  ASSERT_THAT(limiter.Admit(CallKind::kControlStream, absl::InfiniteFuture(),
                            reflection.Function()),
              IsOk());
  ASSERT_TRUE(WaitFor([&] { return reflection.count == 1; }, absl::Seconds(5)));
  EXPECT_EQ(watch.count, 0);
}

TEST(CallLimitsTest, RejectsImpossibleValuesNamingTheFlag) {
  EXPECT_THAT(ValidateCallLimits(CallLimits{.max_streams = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--max_concurrent_streams")));
  EXPECT_THAT(
      ValidateCallLimits(CallLimits{.stream_idle_timeout = absl::ZeroDuration()}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--stream_idle_timeout")));
  EXPECT_THAT(ValidateCallLimits(CallLimits{}), IsOk());
}

}  // namespace
}  // namespace stache::server
