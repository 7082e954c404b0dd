// The real stache-detector binary, driven with the real grpcurl as a user
// would: a base64 image in JSON on stdin, GetInfo, start-up errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "detector/testing/detector_test_inputs.h"
#include "detector/testing/group_photos.h"
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
    return DetectBytes(ReadFileOrDie(TestDataPath(file)));
  }

  CommandResult DetectBytes(const std::string& image) {
    const nlohmann::json request = {{"image", absl::Base64Escape(image)}};
    return Grpcurl("stache.detector.v1.DetectorService/Detect", request.dump());
  }

  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

cv::Point2f PointFrom(const nlohmann::json& point) {
  return cv::Point2f(point.value("x_px", 0.f), point.value("y_px", 0.f));
}

// As a camera writes it.
std::string EncodeJpeg(const cv::Mat& pixels) {
  std::vector<uchar> bytes;
  cv::imencode(".jpg", pixels, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(bytes.begin(), bytes.end());
}

// Found of the 43 faces in RealGroupPhotos, measured (FindsMostFacesInRealGroupPhotos).
// 38 on this machine; one of slack for floating-point differences elsewhere.
constexpr int kRealGroupFloor = 37;

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

// The Detect response's faces as test structures.
struct FoundFace {
  cv::Rect2f box;
  cv::Point2f anchor;  // between nose base and upper lip
};

std::vector<FoundFace> FacesIn(const nlohmann::json& response) {
  std::vector<FoundFace> faces;
  for (const nlohmann::json& face : response.value("faces", nlohmann::json::array())) {
    const nlohmann::json& box = face["bounding_box"];
    const nlohmann::json& landmarks = face["landmarks"];
    faces.push_back(
        {.box = cv::Rect2f(box.value("x_px", 0.f), box.value("y_px", 0.f),
                           box.value("width_px", 0.f), box.value("height_px", 0.f)),
         .anchor =
             (PointFrom(landmarks["nose_base"]) + PointFrom(landmarks["upper_lip_top"])) /
             2});
  }
  return faces;
}

// What the binary found in a set of photos with known faces.
struct Tally {
  int known = 0;
  int found = 0;
  int extra = 0;                     // boxes matching no known face
  std::vector<float> anchor_errors;  // in inter-ocular distances
};

void Count(const std::vector<testing::KnownFace>& known,
           const std::vector<FoundFace>& found, Tally* tally) {
  tally->known += static_cast<int>(known.size());
  for (const testing::KnownFace& face : known) {
    const auto match = std::find_if(found.begin(), found.end(), [&](const FoundFace& f) {
      return testing::BoxMatches(f.box, face);
    });
    if (match == found.end()) continue;
    ++tally->found;
    if (face.has_landmarks) {
      const cv::Point2f error = match->anchor - face.mustache_anchor;
      tally->anchor_errors.push_back(std::hypot(error.x, error.y) /
                                     face.InterOcularDistance());
    }
  }
  for (const FoundFace& f : found) {
    if (std::none_of(known.begin(), known.end(), [&](const testing::KnownFace& face) {
          return testing::BoxMatches(f.box, face);
        })) {
      ++tally->extra;
    }
  }
}

float Median(std::vector<float> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Sends each photo, as JPEG q90, to `detect` and tallies what came back.
Tally DetectEach(const std::vector<testing::GroupPhoto>& photos,
                 const std::function<CommandResult(const std::string&)>& detect) {
  Tally tally;
  for (const testing::GroupPhoto& photo : photos) {
    SCOPED_TRACE(photo.name);
    const CommandResult result = detect(EncodeJpeg(photo.pixels));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    if (result.exit_code != 0) continue;
    const nlohmann::json response = nlohmann::json::parse(result.output);
    EXPECT_EQ(response["image_width_px"], photo.pixels.cols);
    Count(photo.faces, FacesIn(response), &tally);
  }
  return tally;
}

// The figures, for the README's table.
void Report(const std::string& set, const Tally& tally) {
  std::cout << set << ": found " << tally.found << " of " << tally.known << ", "
            << tally.extra << " extra";
  if (!tally.anchor_errors.empty()) {
    std::cout << ", mustache anchor error median " << Median(tally.anchor_errors)
              << " max "
              << *std::max_element(tally.anchor_errors.begin(), tally.anchor_errors.end())
              << " inter-ocular distances, over 0.1 for "
              << std::count_if(tally.anchor_errors.begin(), tally.anchor_errors.end(),
                               [](float error) { return error > 0.1f; });
  }
  std::cout << "\n";
}

// Issue #16: every face of at least 5% of the long side (and 40 px), with
// the default settings, through the real binary and the real grpcurl. A
// found box counts when it matches a known one (testing::BoxMatches: centre
// within 30% of the width, width within a factor of 1.6; the composited faces
// are at least 1.5 widths apart, so no box can count for two faces).
TEST_F(DetectorBinaryTest, FindsTheSmallFacesOfGroupPhotosByDefault) {
  absl::StatusOr<std::vector<testing::GroupPhoto>> photos = testing::MakeGroupPhotos();
  ASSERT_TRUE(photos.ok()) << photos.status();
  Start();
  const Tally tally =
      DetectEach(*photos, [&](const std::string& jpeg) { return DetectBytes(jpeg); });
  Report("composited group photos", tally);
  ASSERT_EQ(tally.known, 64);
  EXPECT_GE(tally.found, 0.95 * tally.known) << tally.found << " of " << tally.known;
  EXPECT_EQ(tally.extra, 0);
  // Placement on small faces as good as on the portraits: a median of about
  // 0.02 inter-ocular distances (0.027 measured here). Since HOG looks
  // twice where its box and the cascade's disagree every face lands within
  // 0.043; the bound stays a share, as a HOG box a pyramid step too wide
  // puts a mustache 0.2-0.4 off.
  ASSERT_FALSE(tally.anchor_errors.empty());
  EXPECT_LE(Median(tally.anchor_errors), 0.04f);
  const auto placed_well =
      std::count_if(tally.anchor_errors.begin(), tally.anchor_errors.end(),
                    [](float error) { return error <= 0.1f; });
  EXPECT_GE(placed_well, 0.95 * tally.anchor_errors.size());
}

// Landscapes, food, animals, text, logos, textures, microscopy, vehicles.
TEST_F(DetectorBinaryTest, FindsNoFaceInPhotosWithoutPeople) {
  Start();
  ASSERT_GE(testing::FaceFreePhotoFiles().size(), 20u);
  for (const std::string& file : testing::FaceFreePhotoFiles()) {
    const CommandResult result = DetectPhoto(file);
    ASSERT_EQ(result.exit_code, 0) << file << ": " << result.output;
    EXPECT_THAT(
        nlohmann::json::parse(result.output).value("faces", nlohmann::json::array()),
        ::testing::IsEmpty())
        << file;
  }
}

// Real group photos (PASCAL VOC, hand-drawn boxes), what the composited ones
// cannot show: many identities, real lighting, blur and turned heads. Not
// every labelled face is frontal enough for the goal; the floor is what the
// detector reaches today, so that it does not slip.
TEST_F(DetectorBinaryTest, FindsMostFacesInRealGroupPhotos) {
  absl::StatusOr<std::vector<testing::GroupPhoto>> photos = testing::RealGroupPhotos();
  ASSERT_TRUE(photos.ok()) << photos.status();
  Start();
  const Tally tally =
      DetectEach(*photos, [&](const std::string& jpeg) { return DetectBytes(jpeg); });
  Report("PASCAL group photos", tally);
  ASSERT_EQ(tally.known, 43);
  EXPECT_GE(tally.found, kRealGroupFloor) << tally.found << " of " << tally.known;
  EXPECT_EQ(tally.extra, 0);
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

TEST(DetectorStartupTest, NegativeOpenCvThreadsAreRefusedBeforeLoadingModels) {
  const CommandResult result = RunCommand(
      {BinaryPath("stache-detector"), "--opencv_threads=-2"}, absl::Seconds(30));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.output, HasSubstr("opencv_threads must not be negative"));
}

}  // namespace
}  // namespace stache::detector
