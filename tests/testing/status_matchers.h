// GoogleTest matchers for absl::Status / absl::StatusOr, shaped like the ones
// in newer Abseil (absl_testing) so they can be swapped later.
//
//   EXPECT_THAT(store.Put(...), IsOk());
//   EXPECT_THAT(Decode(""), StatusIs(absl::StatusCode::kInvalidArgument,
//                                    HasSubstr("empty")));
//   EXPECT_THAT(ParsePort("80"), IsOkAndHolds(80));
#ifndef STACHE_TESTS_TESTING_STATUS_MATCHERS_H_
#define STACHE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stache::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal

MATCHER(IsOk, "is OK") {
  const absl::Status& status = internal::GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = internal::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

}  // namespace stache::testing

#endif  // STACHE_TESTS_TESTING_STATUS_MATCHERS_H_
