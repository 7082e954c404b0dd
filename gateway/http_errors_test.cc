#include "gateway/http_errors.h"

#include <gtest/gtest.h>

namespace stache::gateway {
namespace {

TEST(HttpErrorsTest, MapsEveryCodeLikeGrpcGateway) {
  const std::pair<absl::StatusCode, int> kTable[] = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kUnauthenticated, 401},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},
  };
  for (const auto& [code, http] : kTable) {
    EXPECT_EQ(HttpStatusForCode(code), http) << absl::StatusCodeToString(code);
  }
  EXPECT_EQ(HttpStatusForCode(static_cast<absl::StatusCode>(99)), 500);
}

TEST(HttpErrorsTest, BodyCarriesHttpCodeGrpcNameAndMessage) {
  nlohmann::json body = ErrorBody(404, absl::NotFoundError("no image with id 'x'"));
  EXPECT_EQ(body, nlohmann::json::parse(R"({"error": {"code": 404, "status": "NOT_FOUND",
                                                      "message": "no image with id 'x'"}})"));
}

}  // namespace
}  // namespace stache::gateway
