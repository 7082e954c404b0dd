// The gRPC adapter on a real in-process server (port 0): protos in and out,
// every bad input mapped to the right gRPC code, the message limits, and
// GetInfo listing the loaded models.
#include "detector/detector_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "detector/detector_process.h"
#include "detector/testing/detector_test_inputs.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "server/grpc_server.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/info/v1/info.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::detector {
namespace {

using ::stache::detector::testing::BadImage;
using ::stache::detector::testing::BadImages;
using ::stache::detector::testing::GraceHopper;
using ::stache::testing::IsOk;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::TestDataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Small, so that the limit tests send small messages: the gRPC limit is
// this plus server::kMessageOverheadBytes.
constexpr int64_t kMaxImageBytes = 200'000;

// One server per configuration for the whole suite: loading the 68-point
// model takes about a second.
class DetectorServer final {
 public:
  explicit DetectorServer(const DetectorConfig& config) {
    absl::StatusOr<std::unique_ptr<FaceDetector>> detector = FaceDetector::Create(config);
    EXPECT_THAT(detector, IsOk());
    detector_ = *std::move(detector);
    service_ = std::make_unique<DetectorServiceImpl>(*detector_, kMaxImageBytes, &faces_);
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> server =
        server::GrpcServer::Start(
            {.host = "127.0.0.1", .port = 0, .max_image_bytes = kMaxImageBytes},
            DetectorIdentity(*detector_), {service_.get()});
    EXPECT_THAT(server, IsOk());
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
  }
  ~DetectorServer() { server_->Shutdown(absl::Seconds(1)); }

  grpc::Status Detect(const v1::DetectRequest& request, v1::DetectResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return v1::DetectorService::NewStub(channel_)->Detect(&context, request, response);
  }

  double FacesCounted() const { return faces_.Value({}); }

  grpc::Status GetInfo(stache::info::v1::GetInfoResponse* response) {
    grpc::ClientContext context;
    return stache::info::v1::InfoService::NewStub(channel_)->GetInfo(
        &context, stache::info::v1::GetInfoRequest(), response);
  }

 private:
  server::MetricsRegistry metrics_;
  server::Counter& faces_ = metrics_.AddCounter("faces_total", "Faces returned.", {});
  std::unique_ptr<FaceDetector> detector_;
  std::unique_ptr<DetectorServiceImpl> service_;
  std::unique_ptr<server::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

class DetectorServiceTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete with_model_;
    with_model_ = nullptr;
    delete geometry_only_;
    geometry_only_ = nullptr;
  }

  // Made on first use: under ctest each test is its own process, and only
  // the tests about the 68-point model should wait for it to load.
  static DetectorServer* WithModel() {
    if (with_model_ == nullptr) with_model_ = new DetectorServer(DetectorConfig{});
    return with_model_;
  }
  static DetectorServer* GeometryOnly() {
    if (geometry_only_ == nullptr) {
      geometry_only_ = new DetectorServer(DetectorConfig{.landmark_model_path = ""});
    }
    return geometry_only_;
  }

  static v1::DetectRequest RequestFor(const std::string& image) {
    v1::DetectRequest request;
    request.set_image(image);
    return request;
  }

 private:
  static DetectorServer* with_model_;
  static DetectorServer* geometry_only_;
};

DetectorServer* DetectorServiceTest::with_model_ = nullptr;
DetectorServer* DetectorServiceTest::geometry_only_ = nullptr;

float Distance(const v1::Point& a, const cv::Point2f& b) {
  return std::hypot(a.x_px() - b.x, a.y_px() - b.y);
}

TEST_F(DetectorServiceTest, DetectReturnsTheFaceWithEveryLandmark) {
  const testing::HandCheckedFace& grace = GraceHopper();
  v1::DetectResponse response;
  const double faces_before = WithModel()->FacesCounted();
  ASSERT_TRUE(WithModel()
                  ->Detect(RequestFor(ReadFileOrDie(TestDataPath(grace.file))), &response)
                  .ok());
  EXPECT_EQ(WithModel()->FacesCounted() - faces_before, 1);
  EXPECT_EQ(response.image_width_px(), 512u);
  EXPECT_EQ(response.image_height_px(), 600u);
  EXPECT_GT(response.decode_duration_ms(), 0);
  EXPECT_GT(response.detect_duration_ms(), 0);
  ASSERT_EQ(response.faces_size(), 1);
  const v1::Face& face = response.faces(0);
  EXPECT_EQ(face.landmark_source(), v1::LANDMARK_SOURCE_SHAPE_PREDICTOR_68);
  EXPECT_GT(face.confidence(), 0.5f);
  EXPECT_LT(std::abs(face.roll_degrees()), 5);
  const float tolerance = 0.1f * grace.InterOcularDistance();
  const v1::FaceLandmarks& l = face.landmarks();
  EXPECT_LE(Distance(l.left_eye_center(), grace.left_eye), tolerance);
  EXPECT_LE(Distance(l.right_eye_center(), grace.right_eye), tolerance);
  EXPECT_LE(Distance(l.nose_base(), grace.nose_base), tolerance);
  EXPECT_LE(Distance(l.upper_lip_top(), grace.upper_lip_top), tolerance);
  EXPECT_LE(Distance(l.mouth_left(), grace.mouth_left), 1.5f * tolerance);
  EXPECT_LE(Distance(l.mouth_right(), grace.mouth_right), 1.5f * tolerance);
  const v1::Box& box = face.bounding_box();
  EXPECT_GT(box.width_px(), 150);
  EXPECT_LT(box.x_px(), grace.left_eye.x);
  EXPECT_GT(box.x_px() + box.width_px(), grace.right_eye.x);
  EXPECT_LT(box.y_px(), grace.left_eye.y);
  EXPECT_GT(box.y_px() + box.height_px(), grace.upper_lip_top.y);
}

TEST_F(DetectorServiceTest, GeometryOnlyServerSaysWhereItsLandmarksComeFrom) {
  v1::DetectResponse response;
  ASSERT_TRUE(
      GeometryOnly()
          ->Detect(RequestFor(ReadFileOrDie(TestDataPath("grace_hopper.jpg"))), &response)
          .ok());
  ASSERT_EQ(response.faces_size(), 1);
  EXPECT_EQ(response.faces(0).landmark_source(), v1::LANDMARK_SOURCE_CASCADE_GEOMETRY);
}

TEST_F(DetectorServiceTest, PassesTheOptionsThrough) {
  v1::DetectRequest request = RequestFor(ReadFileOrDie(TestDataPath("grace_hopper.jpg")));
  request.mutable_options()->set_min_face_size_px(400);
  v1::DetectResponse response;
  ASSERT_TRUE(GeometryOnly()->Detect(request, &response).ok());
  EXPECT_EQ(response.faces_size(), 0);

  request.mutable_options()->set_min_face_size_px(0);
  request.mutable_options()->set_min_confidence(0.9999f);
  ASSERT_TRUE(GeometryOnly()->Detect(request, &response).ok());
  EXPECT_EQ(response.faces_size(), 0);

  // uint32 values beyond int mean "no limit" and "larger than any image".
  request.mutable_options()->set_min_confidence(0);
  request.mutable_options()->set_max_faces(4'000'000'000u);
  ASSERT_TRUE(GeometryOnly()->Detect(request, &response).ok());
  EXPECT_EQ(response.faces_size(), 1);
  request.mutable_options()->set_min_face_size_px(4'000'000'000u);
  ASSERT_TRUE(GeometryOnly()->Detect(request, &response).ok());
  EXPECT_EQ(response.faces_size(), 0);
}

TEST_F(DetectorServiceTest, ImageWithoutFacesIsNotAnError) {
  cv::Mat flat(200, 300, CV_8UC3, cv::Scalar(40, 120, 200));
  absl::StatusOr<std::string> jpeg =
      imaging::EncodeImage(flat, imaging::ImageFormat::kJpeg, 90);
  ASSERT_THAT(jpeg, IsOk());
  v1::DetectResponse response;
  const grpc::Status status = GeometryOnly()->Detect(RequestFor(*jpeg), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.image_width_px(), 300u);
  EXPECT_EQ(response.image_height_px(), 200u);
  EXPECT_EQ(response.faces_size(), 0);
}

TEST_F(DetectorServiceTest, RefusesEveryBadInputWithTheRightCodeAndAMessage) {
  for (const BadImage& bad : BadImages()) {
    v1::DetectResponse response;
    const grpc::Status status = GeometryOnly()->Detect(RequestFor(bad.bytes), &response);
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(bad.code))
        << bad.name;
    EXPECT_THAT(status.error_message(), HasSubstr(bad.message_part)) << bad.name;
  }
  v1::DetectRequest bad_options =
      RequestFor(ReadFileOrDie(TestDataPath("grace_hopper.jpg")));
  bad_options.mutable_options()->set_min_confidence(1.5f);
  v1::DetectResponse response;
  const grpc::Status status = GeometryOnly()->Detect(bad_options, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("min_confidence"));
}

TEST_F(DetectorServiceTest, RefusesImagesOverTheByteLimit) {
  // Over --max_image_bytes but within gRPC's message limit: the service
  // says what the limit is.
  v1::DetectResponse response;
  grpc::Status status = GeometryOnly()->Detect(
      RequestFor(std::string(kMaxImageBytes + 1, '\xFF')), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("at most ", kMaxImageBytes)));
  // Over gRPC's message limit: refused before it reaches the service.
  status = GeometryOnly()->Detect(
      RequestFor(std::string(kMaxImageBytes + server::kMessageOverheadBytes + 1, '\xFF')),
      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
  // The server still serves.
  status = GeometryOnly()->Detect(
      RequestFor(ReadFileOrDie(TestDataPath("grace_hopper.jpg"))), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(DetectorServiceTest, GetInfoListsTheLoadedModels) {
  auto components = [](DetectorServer* server) {
    stache::info::v1::GetInfoResponse info;
    EXPECT_TRUE(server->GetInfo(&info).ok());
    EXPECT_EQ(info.service_name(), "detector");
    std::vector<std::string> names;
    for (const auto& component : info.components()) {
      EXPECT_EQ(component.kind(), "model");
      EXPECT_FALSE(component.detail().empty());
      names.push_back(component.name());
    }
    return names;
  };
  EXPECT_THAT(
      components(WithModel()),
      ElementsAre("coarse_face_cascade", "dlib_hog_frontal_face", "shape_predictor_68"));
  EXPECT_THAT(components(GeometryOnly()),
              ElementsAre("coarse_face_cascade", "dlib_hog_frontal_face", "eye_cascade"));
}

TEST_F(DetectorServiceTest, ServesConcurrentCalls) {
  const std::string photo = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  constexpr int kThreads = 4;
  std::vector<int> faces(kThreads * 3, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < 3; ++call) {
        v1::DetectResponse response;
        if (GeometryOnly()->Detect(RequestFor(photo), &response).ok()) {
          faces[t * 3 + call] = response.faces_size();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(faces, ::testing::Each(1));
}

}  // namespace
}  // namespace stache::detector
