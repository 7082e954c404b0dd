// The real stache-detector binary, driven with the real grpcurl as a user
// would: a base64 image in JSON on stdin, GetInfo, start-up errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "detector/testing/detector_test_inputs.h"
#include "nlohmann/json.hpp"
#include "tests/testing/process.h"

namespace stache::detector {
namespace {

using ::stache::detector::testing::GraceHopper;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::CommandResult;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

class DetectorBinaryTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_ != nullptr && server_->Running()) {
      server_->Signal(SIGTERM);
      EXPECT_EQ(server_->Wait(absl::Seconds(20)), 0) << server_->Output();
    }
  }

  void Start(std::vector<std::string> flags = {}) {
    port_ = PickUnusedPort();
    std::vector<std::string> argv = {BinaryPath("stache-detector"), "--host=127.0.0.1",
                                     absl::StrCat("--port=", port_)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    server_ = std::make_unique<ChildProcess>(argv);
    // Loading the 68-point model takes a second or two.
    ASSERT_TRUE(WaitFor([&] { return PortAcceptsConnections(port_); }, absl::Seconds(30)))
        << server_->Output();
  }

  // grpcurl -plaintext -d @ <target> <method>, with `json` on stdin.
  CommandResult Grpcurl(const std::string& method, const std::string& json) {
    return RunCommand({STACHE_GRPCURL, "-plaintext", "-d", "@",
                       absl::StrCat("127.0.0.1:", port_), method},
                      absl::Seconds(30), json);
  }

  CommandResult DetectPhoto(const std::string& file) {
    const nlohmann::json request = {
        {"image", absl::Base64Escape(ReadFileOrDie(TestDataPath(file)))}};
    return Grpcurl("stache.detector.v1.DetectorService/Detect", request.dump());
  }

  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

cv::Point2f PointFrom(const nlohmann::json& point) {
  return cv::Point2f(point.value("x_px", 0.f), point.value("y_px", 0.f));
}

TEST_F(DetectorBinaryTest, DetectsWithGrpcurlAndABase64Image) {
  Start();
  const CommandResult result = DetectPhoto("grace_hopper.jpg");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json response = nlohmann::json::parse(result.output);
  EXPECT_EQ(response["image_width_px"], 512);
  EXPECT_EQ(response["image_height_px"], 600);
  ASSERT_EQ(response["faces"].size(), 1u) << result.output;
  const nlohmann::json& face = response["faces"][0];
  EXPECT_EQ(face["landmark_source"], "LANDMARK_SOURCE_SHAPE_PREDICTOR_68");
  const nlohmann::json& landmarks = face["landmarks"];
  const cv::Point2f anchor =
      (PointFrom(landmarks["nose_base"]) + PointFrom(landmarks["upper_lip_top"])) / 2;
  const cv::Point2f expected = GraceHopper().MustacheAnchor();
  EXPECT_LE(std::hypot(anchor.x - expected.x, anchor.y - expected.y),
            0.1f * GraceHopper().InterOcularDistance())
      << result.output;
}

TEST_F(DetectorBinaryTest, GetInfoListsTheModels) {
  Start();
  const CommandResult result = Grpcurl("stache.info.v1.InfoService/GetInfo", "{}");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("\"dlib_hog_frontal_face\""));
  EXPECT_THAT(result.output, HasSubstr("\"shape_predictor_68\""));
  EXPECT_THAT(result.output,
              HasSubstr("/usr/share/dlib/shape_predictor_68_face_landmarks.dat"));
}

TEST_F(DetectorBinaryTest, ReportsBadImagesAsInvalidArgument) {
  Start({"--landmark_model="});  // starts faster; decoding is the same
  const CommandResult result = Grpcurl(
      "stache.detector.v1.DetectorService/Detect",
      nlohmann::json({{"image", absl::Base64Escape("not an image at all")}}).dump());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("InvalidArgument"));
  EXPECT_THAT(result.output, HasSubstr("not an image"));
}

TEST_F(DetectorBinaryTest, WorksWithoutTheLandmarkModel) {
  Start({"--landmark_model="});
  const CommandResult detect = DetectPhoto("grace_hopper.jpg");
  ASSERT_EQ(detect.exit_code, 0) << detect.output;
  EXPECT_THAT(detect.output, HasSubstr("LANDMARK_SOURCE_CASCADE_GEOMETRY"));
  const CommandResult info = Grpcurl("stache.info.v1.InfoService/GetInfo", "{}");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, Not(HasSubstr("shape_predictor_68")));
}

TEST_F(DetectorBinaryTest, FindsFacesWithTheOpenCvCascade) {
  Start({"--face_finder=cascade", "--landmark_model="});
  const CommandResult detect = DetectPhoto("grace_hopper.jpg");
  ASSERT_EQ(detect.exit_code, 0) << detect.output;
  EXPECT_EQ(nlohmann::json::parse(detect.output)["faces"].size(), 1u) << detect.output;
  const CommandResult info = Grpcurl("stache.info.v1.InfoService/GetInfo", "{}");
  EXPECT_THAT(info.output, HasSubstr("lbpcascade_frontalface_improved.xml"));
}

TEST(DetectorStartupTest, MissingModelIsAClearErrorNamingTheFile) {
  const CommandResult result =
      RunCommand({BinaryPath("stache-detector"), "--host=127.0.0.1",
                  absl::StrCat("--port=", PickUnusedPort()),
                  "--landmark_model=/nonexistent/shape_predictor.dat"},
                 absl::Seconds(30));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("/nonexistent/shape_predictor.dat"));
  EXPECT_THAT(result.output, HasSubstr("No such file"));
}

TEST(DetectorStartupTest, UnknownFaceFinderIsRefused) {
  const CommandResult result = RunCommand(
      {BinaryPath("stache-detector"), "--face_finder=haar"}, absl::Seconds(30));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("--face_finder"));
}

}  // namespace
}  // namespace stache::detector
