#include "overlay/overlay_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "overlay/testing/mustache_measure.h"
#include "server/grpc_server.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::overlay {
namespace {

using ::stache::overlay::testing::GraceHopperFace;
using ::stache::testing::IsOk;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::TestDataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

detector::v1::Point ToProto(cv::Point2d p) {
  detector::v1::Point point;
  point.set_x_px(static_cast<float>(p.x));
  point.set_y_px(static_cast<float>(p.y));
  return point;
}

// The face as DetectorService.Detect would return it.
detector::v1::Face DetectedFace(const Face& face) {
  detector::v1::Face proto;
  proto.mutable_bounding_box()->set_x_px(180);
  proto.mutable_bounding_box()->set_y_px(140);
  proto.mutable_bounding_box()->set_width_px(170);
  proto.mutable_bounding_box()->set_height_px(190);
  proto.set_confidence(0.97f);
  proto.set_roll_degrees(static_cast<float>(face.roll_degrees));
  proto.set_landmark_source(detector::v1::LANDMARK_SOURCE_SHAPE_PREDICTOR_68);
  detector::v1::FaceLandmarks* l = proto.mutable_landmarks();
  *l->mutable_left_eye_center() = ToProto(face.landmarks.left_eye_center);
  *l->mutable_right_eye_center() = ToProto(face.landmarks.right_eye_center);
  *l->mutable_nose_base() = ToProto(face.landmarks.nose_base);
  *l->mutable_upper_lip_top() = ToProto(face.landmarks.upper_lip_top);
  *l->mutable_mouth_left() = ToProto(face.landmarks.mouth_left);
  *l->mutable_mouth_right() = ToProto(face.landmarks.mouth_right);
  return proto;
}

class OverlayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MustacheOverlay>> overlay =
        MustacheOverlay::Create({.default_style = "chevron"});
    ASSERT_THAT(overlay, IsOk());
    overlay_ = *std::move(overlay);
    service_ = std::make_unique<OverlayServiceImpl>(*overlay_, &applied_);
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> server =
        server::GrpcServer::Start({.host = "127.0.0.1", .port = 0},
                                  {.service_name = "overlay",
                                   .service_names = {"stache.overlay.v1.OverlayService"}},
                                  {service_.get()});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    stub_ = v1::OverlayService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
    photo_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  v1::ApplyRequest PhotoRequest() const {
    v1::ApplyRequest request;
    request.set_image(photo_);
    *request.add_faces() = DetectedFace(GraceHopperFace());
    return request;
  }

  grpc::Status Apply(const v1::ApplyRequest& request, v1::ApplyResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Apply(&context, request, response);
  }

  std::unique_ptr<MustacheOverlay> overlay_;
  server::MetricsRegistry metrics_;
  server::Counter& applied_ = metrics_.AddCounter("applied", "", {"path"});
  std::unique_ptr<OverlayServiceImpl> service_;
  std::unique_ptr<server::GrpcServer> server_;
  std::unique_ptr<v1::OverlayService::Stub> stub_;
  std::string photo_;
};

TEST_F(OverlayServiceTest, ListsStylesWithPngPreviews) {
  grpc::ClientContext context;
  v1::ListStylesResponse response;
  ASSERT_TRUE(stub_->ListStyles(&context, v1::ListStylesRequest(), &response).ok());
  ASSERT_GE(response.styles_size(), 4);
  EXPECT_EQ(response.styles(0).name(), "handlebar");
  EXPECT_EQ(response.styles(0).display_name(), "Handlebar");
  for (const v1::Style& style : response.styles()) {
    absl::StatusOr<imaging::DecodedImage> preview =
        imaging::DecodeImage(style.preview_png(), {.keep_alpha = true});
    ASSERT_THAT(preview, IsOk()) << style.name();
    EXPECT_EQ(preview->format, imaging::ImageFormat::kPng);
    EXPECT_EQ(preview->pixels.type(), CV_8UC4) << style.name();
  }
}

TEST_F(OverlayServiceTest, AppliesTheDefaultStyleAndReportsTheResult) {
  v1::ApplyResponse response;
  grpc::Status status = Apply(PhotoRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.format(), v1::IMAGE_FORMAT_JPEG);
  EXPECT_EQ(response.content_type(), "image/jpeg");
  EXPECT_EQ(response.width_px(), 512u);
  EXPECT_EQ(response.height_px(), 600u);
  EXPECT_THAT(response.styles_applied(), ElementsAre("chevron"));
  EXPECT_GT(response.decode_duration_ms(), 0);
  EXPECT_GT(response.draw_duration_ms(), 0);
  EXPECT_GT(response.encode_duration_ms(), 0);
  EXPECT_THAT(imaging::ReadImageHeader(response.image()), IsOk());
  EXPECT_NE(response.image(), photo_);
}

// Issue #16: which path Apply took is observable, as a counter label.
TEST_F(OverlayServiceTest, CountsTheCallsByThePathTheyTook) {
  v1::ApplyResponse response;
  ASSERT_TRUE(Apply(PhotoRequest(), &response).ok());
  v1::ApplyRequest png = PhotoRequest();
  png.set_output_format(v1::IMAGE_FORMAT_PNG);
  ASSERT_TRUE(Apply(png, &response).ok());
  ASSERT_TRUE(Apply(png, &response).ok());
  v1::ApplyRequest bad = PhotoRequest();
  bad.set_style("goatee");
  ASSERT_FALSE(Apply(bad, &response).ok());
  EXPECT_EQ(applied_.Value({"jpeg_coefficients"}), 1);
  EXPECT_EQ(applied_.Value({"pixels"}), 2);
}

TEST_F(OverlayServiceTest, HonoursStyleFormatQualityAndSeed) {
  v1::ApplyRequest request = PhotoRequest();
  *request.add_faces() = request.faces(0);
  request.set_style("random");
  request.set_random_seed(7);
  request.set_output_format(v1::IMAGE_FORMAT_WEBP);
  request.set_quality(60);
  v1::ApplyResponse first, second;
  ASSERT_TRUE(Apply(request, &first).ok());
  ASSERT_TRUE(Apply(request, &second).ok());
  EXPECT_EQ(first.format(), v1::IMAGE_FORMAT_WEBP);
  EXPECT_EQ(first.content_type(), "image/webp");
  EXPECT_EQ(first.styles_applied_size(), 2);
  EXPECT_EQ(first.image(), second.image());
  EXPECT_THAT(second.styles_applied(),
              ElementsAre(first.styles_applied(0), first.styles_applied(1)));

  request.set_style("walrus");
  request.set_output_format(v1::IMAGE_FORMAT_PNG);
  v1::ApplyResponse png;
  ASSERT_TRUE(Apply(request, &png).ok());
  EXPECT_EQ(png.content_type(), "image/png");
  EXPECT_THAT(png.styles_applied(), ElementsAre("walrus", "walrus"));
}

TEST_F(OverlayServiceTest, BadRequestsAreInvalidArgumentWithAClearMessage) {
  struct Case {
    std::string name;
    std::function<void(v1::ApplyRequest&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"undecodable", [](v1::ApplyRequest& r) { r.set_image("GIF89a nope"); }, ""},
      {"empty image", [](v1::ApplyRequest& r) { r.clear_image(); }, "empty"},
      {"unknown style", [](v1::ApplyRequest& r) { r.set_style("goatee"); },
       "unknown style"},
      {"format enum out of range",
       [](v1::ApplyRequest& r) { r.set_output_format(static_cast<v1::ImageFormat>(9)); },
       "output_format 9 is not supported"},
      {"quality", [](v1::ApplyRequest& r) { r.set_quality(101); }, "quality 101"},
      {"no landmarks", [](v1::ApplyRequest& r) { r.mutable_faces(0)->clear_landmarks(); },
       "faces[0] has no landmarks"},
      {"NaN landmark",
       [](v1::ApplyRequest& r) {
         r.mutable_faces(0)->mutable_landmarks()->mutable_nose_base()->set_x_px(NAN);
       },
       "not a finite number"},
      {"absurd landmark",
       [](v1::ApplyRequest& r) {
         r.mutable_faces(0)->mutable_landmarks()->mutable_mouth_left()->set_y_px(3e38f);
       },
       "far outside"},
      {"infinite roll",
       [](v1::ApplyRequest& r) { r.mutable_faces(0)->set_roll_degrees(INFINITY); },
       "roll_degrees"},
      {"10,000 faces",
       [](v1::ApplyRequest& r) {
         for (int i = 0; i < 9'999; ++i) *r.add_faces() = r.faces(0);
       },
       "10000 faces; at most 64"},
      {"box outside the image",
       [](v1::ApplyRequest& r) {
         r.mutable_faces(0)->mutable_bounding_box()->set_width_px(100'000);
       },
       "faces[0].bounding_box"},
  };
  for (const Case& c : cases) {
    v1::ApplyRequest request = PhotoRequest();
    c.spoil(request);
    v1::ApplyResponse response;
    grpc::Status status = Apply(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_FALSE(status.error_message().empty()) << c.name;
  }
  // The server is still there.
  v1::ApplyResponse response;
  EXPECT_TRUE(Apply(PhotoRequest(), &response).ok());
}

// A call past its deadline stops between stages: no drawing, no encoding
// nobody will read (#12). The photo is large and noisy and the output PNG,
// so that encoding takes most of a whole call.
TEST_F(OverlayServiceTest, AnExpiredCallStopsBeforeEncoding) {
  cv::Mat noise(2400, 3200, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  absl::StatusOr<std::string> jpeg =
      imaging::EncodeImage(noise, imaging::ImageFormat::kJpeg, 80);
  ASSERT_THAT(jpeg, IsOk());
  v1::ApplyRequest request;
  request.set_image(*jpeg);
  request.set_output_format(v1::IMAGE_FORMAT_PNG);
  // The PNG answer is larger than gRPC's default message limit.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  auto stub = v1::OverlayService::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                grpc::InsecureChannelCredentials(), arguments));
  // Two whole calls: the first decode pays for warming up, so the shorter
  // decode is what the timed call below will take (or more, under load).
  absl::Duration whole = absl::InfiniteDuration();
  absl::Duration decode = absl::InfiniteDuration();
  for (int i = 0; i < 2; ++i) {
    const absl::Time start = absl::Now();
    v1::ApplyResponse full;
    grpc::ClientContext full_context;
    const grpc::Status full_status = stub->Apply(&full_context, request, &full);
    ASSERT_TRUE(full_status.ok()) << full_status.error_message();
    whole = std::min(whole, absl::Now() - start);
    decode = std::min(decode, absl::Milliseconds(full.decode_duration_ms()));
  }
  if (whole < decode + absl::Milliseconds(300)) {
    GTEST_SKIP() << "encoding is too fast here to tell a stopped call from a whole one";
  }
  // The deadline passes during the decode (half of the fastest one seen);
  // the call must end soon after it, without encoding.
  grpc::ClientContext context;
  const absl::Time start = absl::Now();
  context.set_deadline(absl::ToChronoTime(start + decode * 0.5));
  v1::ApplyResponse response;
  EXPECT_EQ(stub->Apply(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(::stache::testing::WaitFor(
      [&] { return server_->InFlight(server::CallKind::kWork) == 0; },
      absl::Seconds(30)));
  EXPECT_LT(absl::Now() - start, decode + (whole - decode) / 2)
      << "whole call " << whole << ", decode " << decode;
}

TEST_F(OverlayServiceTest, ServesConcurrentCalls) {
  v1::ApplyRequest request = PhotoRequest();
  request.set_output_format(v1::IMAGE_FORMAT_PNG);
  v1::ApplyResponse expected;
  ASSERT_TRUE(Apply(request, &expected).ok());
  constexpr int kThreads = 4;
  std::vector<std::string> images(kThreads);
  std::vector<grpc::Status> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      v1::ApplyResponse response;
      statuses[t] = Apply(request, &response);
      images[t] = response.image();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(statuses[t].ok()) << statuses[t].error_message();
    EXPECT_EQ(images[t], expected.image()) << "thread " << t;
  }
}

}  // namespace
}  // namespace stache::overlay
