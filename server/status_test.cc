#include "server/status.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/error_reason.h"

namespace stache::server {
namespace {

google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
  EXPECT_EQ(details.message(), status.error_message());
  google::rpc::ErrorInfo info;
  EXPECT_EQ(details.details_size(), 1);
  if (details.details_size() > 0) {
    EXPECT_TRUE(details.details(0).UnpackTo(&info));
  }
  return info;
}

TEST(StatusTest, EveryErrorCarriesAnErrorInfoWithAReason) {
  const grpc::Status plain = ToGrpcStatus(absl::NotFoundError("no object"));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(plain.error_message(), "no object");
  EXPECT_EQ(ErrorInfoOf(plain).reason(), "NOT_FOUND");
  EXPECT_EQ(ErrorInfoOf(plain).domain(), "stache");

  const grpc::Status reasoned = ToGrpcStatus(
      WithReason(absl::InvalidArgumentError("bad style"), kReasonUnknownStyle));
  EXPECT_EQ(ErrorInfoOf(reasoned).reason(), "UNKNOWN_STYLE");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).error_details().empty());
}

TEST(StatusTest, TheReasonSurvivesTheRoundTrip) {
  const absl::Status back = FromGrpcStatus(ToGrpcStatus(
      WithReason(absl::ResourceExhaustedError("too big"), kReasonImageTooLarge)));
  EXPECT_EQ(back.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(back.message(), "too big");
  EXPECT_EQ(ReasonOf(back), "IMAGE_TOO_LARGE");
}

TEST(StatusTest, StatusesWithoutDetailsGetTheCodeAsReason) {
  const absl::Status status =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"));
  EXPECT_EQ(ReasonOf(status), "UNAVAILABLE");
  // Garbage details from a peer are ignored, not trusted.
  EXPECT_EQ(ReasonOf(FromGrpcStatus(
                grpc::Status(grpc::StatusCode::INTERNAL, "x", "\xff\xff not a proto"))),
            "INTERNAL");
  EXPECT_EQ(ReasonOf(absl::OkStatus()), "");
  EXPECT_TRUE(WithReason(absl::OkStatus(), "X").ok());
}

}  // namespace
}  // namespace stache::server
