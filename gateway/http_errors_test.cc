#include "gateway/http_errors.h"

#include <gtest/gtest.h>

#include "server/error_reason.h"

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

TEST(HttpErrorsTest, NotAnImageIs415WhateverItsCode) {
  const absl::Status not_an_image = server::WithReason(
      absl::InvalidArgumentError("no image"), server::kReasonNotAnImage);
  EXPECT_EQ(HttpStatusFor(not_an_image), 415);
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("bad style")), 400);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("down")), 503);
}

TEST(HttpErrorsTest, BodyCarriesHttpCodeGrpcNameAndMessage) {
  nlohmann::json body = ErrorBody(404, absl::NotFoundError("no image with id 'x'"));
  EXPECT_EQ(body, nlohmann::json::parse(R"({"error": {"code": 404, "status": "NOT_FOUND",
                                                      "reason": "NOT_FOUND",
                                                      "message": "no image with id 'x'"}})"));
}

TEST(HttpErrorsTest, BodyCarriesTheStatusReason) {
  nlohmann::json body = ErrorBody(
      400,
      server::WithReason(absl::InvalidArgumentError("no such style"), "UNKNOWN_STYLE"));
  EXPECT_EQ(body["error"]["reason"], "UNKNOWN_STYLE");
  EXPECT_EQ(body["error"]["status"], "INVALID_ARGUMENT");
}

TEST(HttpErrorsTest, BodiesNeverCarryAddressesUrlsOrInternalDetails) {
  const std::string unavailable = PublicErrorMessage(
      503,
      absl::UnavailableError("detector Detect: failed to connect to all addresses; last "
                             "error: UNKNOWN: ipv4:127.0.0.1:50051: Connection refused "
                             "(via storage.internal:9000, /var/lib/stache/x)"));
  EXPECT_NE(unavailable.find("detector Detect"), std::string::npos) << unavailable;
  for (const char* secret : {"127.0.0.1", "50051", "storage.internal", "/var/lib"}) {
    EXPECT_EQ(unavailable.find(secret), std::string::npos) << unavailable;
  }
  const std::string s3 = PublicErrorMessage(
      404,
      absl::NotFoundError("GET https://bucket.s3.eu-west-1.amazonaws.com/k: NoSuchKey"));
  EXPECT_EQ(s3.find("amazonaws"), std::string::npos) << s3;
  EXPECT_NE(s3.find("NoSuchKey"), std::string::npos) << s3;
  // Internal errors say only that one happened; the request id finds the log.
  nlohmann::json body =
      ErrorBody(500, absl::InternalError("open /srv/secret failed: boom"), "req-1");
  EXPECT_EQ(body["error"]["request_id"], "req-1");
  EXPECT_EQ(body["error"]["status"], "INTERNAL");
  EXPECT_EQ(body["error"]["message"].get<std::string>().find("/srv"), std::string::npos);
}

}  // namespace
}  // namespace stache::gateway
