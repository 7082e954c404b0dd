#include "imaging/decode_budget.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/testing/status_matchers.h"

namespace stache::imaging {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DecodeMemoryBudgetTest, LeasesAreReturnedWhenDestroyed) {
  DecodeMemoryBudget budget(100);
  {
    absl::StatusOr<DecodeMemoryBudget::Lease> a = budget.Acquire(60, absl::Now());
    ASSERT_THAT(a, IsOk());
    EXPECT_EQ(budget.in_use(), 60);
    DecodeMemoryBudget::Lease moved = *std::move(a);
    EXPECT_EQ(moved.bytes(), 60);
    EXPECT_EQ(budget.in_use(), 60);
  }
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(DecodeMemoryBudgetTest, MoreThanTheWholeBudgetIsRefusedAtOnce) {
  DecodeMemoryBudget budget(100);
  EXPECT_THAT(budget.Acquire(101, absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("more than")));
}

TEST(DecodeMemoryBudgetTest, ACallerOverTheBudgetGivesUpAtItsDeadline) {
  DecodeMemoryBudget budget(100);
  absl::StatusOr<DecodeMemoryBudget::Lease> held = budget.Acquire(70, absl::Now());
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT(budget.Acquire(40, absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("too many")));
  EXPECT_EQ(budget.in_use(), 70);
}

TEST(DecodeMemoryBudgetTest, ACallerOverTheBudgetGetsInWhenRoomIsMade) {
  DecodeMemoryBudget budget(100);
  absl::StatusOr<DecodeMemoryBudget::Lease> held = budget.Acquire(70, absl::Now());
  ASSERT_THAT(held, IsOk());
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(20));
    *held = DecodeMemoryBudget::Lease();
  });
  absl::StatusOr<DecodeMemoryBudget::Lease> waiting =
      budget.Acquire(40, absl::Now() + absl::Seconds(30));
  releaser.join();
  ASSERT_THAT(waiting, IsOk());
  EXPECT_EQ(budget.in_use(), 40);
}

}  // namespace
}  // namespace stache::imaging
