#include "detector/detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "detector/internal/landmark_fitter.h"
#include "detector/internal/object_pool.h"
#include "detector/testing/detector_test_inputs.h"
#include "detector/testing/group_photos.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "tests/testing/images.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::detector {
namespace {

using ::stache::detector::testing::Astronaut;
using ::stache::detector::testing::BadImage;
using ::stache::detector::testing::BadImages;
using ::stache::detector::testing::GraceHopper;
using ::stache::detector::testing::HandCheckedFace;
using ::stache::detector::testing::LoadPhoto;
using ::stache::detector::testing::MapPoint;
using ::stache::detector::testing::RotateAboutCentre;
using ::stache::testing::IsOk;
using ::stache::testing::MakeTempDir;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

// The detector configurations under test. Loading is slow (the 68-point
// model takes about a second), so each is made once and shared, which is
// also how the server uses it.
struct DetectorSetup {
  std::string name;
  FaceFinderKind finder;
  bool landmark_model;
};

const std::vector<DetectorSetup>& AllSetups() {
  static const auto* setups = new std::vector<DetectorSetup>{
      {"HogWithModel", FaceFinderKind::kHog, true},
      {"CascadeWithModel", FaceFinderKind::kCascade, true},
      {"HogGeometryOnly", FaceFinderKind::kHog, false},
      {"CascadeGeometryOnly", FaceFinderKind::kCascade, false},
      {"CoarseToFineWithModel", FaceFinderKind::kCoarseToFine, true},
      {"CoarseToFineGeometryOnly", FaceFinderKind::kCoarseToFine, false}};
  return *setups;
}

const FaceDetector& SharedDetector(const DetectorSetup& setup) {
  static auto* detectors = new std::map<std::string, std::unique_ptr<FaceDetector>>();
  std::unique_ptr<FaceDetector>& detector = (*detectors)[setup.name];
  if (detector == nullptr) {
    DetectorConfig config{.face_finder = setup.finder};
    if (!setup.landmark_model) config.landmark_model_path.clear();
    absl::StatusOr<std::unique_ptr<FaceDetector>> created = FaceDetector::Create(config);
    EXPECT_THAT(created, IsOk());
    detector = *std::move(created);
  }
  return *detector;
}

// The service's default configuration.
const FaceDetector& DefaultDetector() { return SharedDetector(AllSetups()[4]); }

// Without the 68-point model a detector loads in a blink: for tests about
// options and inputs, where the landmark source does not matter. (Each test
// runs in its own process under ctest, so model loads add up.)
const FaceDetector& QuickDetector() { return SharedDetector(AllSetups()[2]); }

// The 68-point model lands within 10% of the distance between the eyes of
// where a person puts the points; the box geometry is coarser.
float Tolerance(const DetectorSetup& setup) {
  return setup.landmark_model ? 0.10f : 0.20f;
}

float Distance(const cv::Point2f& a, const cv::Point2f& b) {
  return std::hypot(a.x - b.x, a.y - b.y);
}

cv::Point2f Anchor(const FaceLandmarks& landmarks) {
  return (landmarks.nose_base + landmarks.upper_lip_top) / 2;
}

// With STACHE_DETECTOR_DEBUG_DIR set, writes the image with the faces drawn,
// to check results by eye.
void MaybeDrawFaces(const std::string& name, const cv::Mat& image,
                    const Detection& detection) {
  const char* dir = std::getenv("STACHE_DETECTOR_DEBUG_DIR");
  if (dir == nullptr) return;
  cv::Mat canvas = image.clone();
  for (const Face& face : detection.faces) {
    cv::rectangle(canvas, face.box, {0, 255, 0}, 2);
    const FaceLandmarks& l = face.landmarks;
    for (const cv::Point2f& point : {l.left_eye_center, l.right_eye_center, l.nose_base,
                                     l.upper_lip_top, l.mouth_left, l.mouth_right}) {
      cv::circle(canvas, point, 3, {0, 0, 255}, -1);
    }
  }
  cv::imwrite(std::string(dir) + "/" + name + ".png", canvas);
}

void ExpectPlausibleUprightFace(const Face& face) {
  const FaceLandmarks& l = face.landmarks;
  for (const cv::Point2f& point : {l.left_eye_center, l.right_eye_center, l.nose_base,
                                   l.upper_lip_top, l.mouth_left, l.mouth_right}) {
    EXPECT_TRUE(face.box.contains(point)) << point << " outside " << face.box;
  }
  EXPECT_LT(l.left_eye_center.x, l.right_eye_center.x);
  EXPECT_LT(l.mouth_left.x, l.mouth_right.x);
  EXPECT_LT(std::max(l.left_eye_center.y, l.right_eye_center.y), l.nose_base.y);
  EXPECT_LT(l.nose_base.y, l.upper_lip_top.y);
  EXPECT_GE(face.confidence, 0.5f);
  EXPECT_LE(face.confidence, 1.0f);
}

class RealPhotoTest : public ::testing::TestWithParam<DetectorSetup> {
 protected:
  const DetectorSetup& detector_setup() const { return GetParam(); }
  const FaceDetector& detector() const { return SharedDetector(GetParam()); }
};

TEST_P(RealPhotoTest, FindsTheFaceAndItsLandmarksWhereAPersonSeesThem) {
  for (const HandCheckedFace& photo : testing::PhotosWithOneFace()) {
    SCOPED_TRACE(photo.file);
    const cv::Mat image = LoadPhoto(photo.file);
    ASSERT_FALSE(image.empty());
    absl::StatusOr<Detection> detection = detector().Detect(image, {});
    ASSERT_THAT(detection, IsOk());
    MaybeDrawFaces(detector_setup().name + "_" + photo.file, image, *detection);
    EXPECT_EQ(detection->image_size, photo.size);
    ASSERT_EQ(detection->faces.size(), 1u);
    const Face& face = detection->faces[0];
    ExpectPlausibleUprightFace(face);
    EXPECT_EQ(face.landmark_source, detector_setup().landmark_model
                                        ? LandmarkSource::kShapePredictor68
                                        : LandmarkSource::kCascadeGeometry);
    const float tolerance = Tolerance(detector_setup()) * photo.InterOcularDistance();
    EXPECT_LE(Distance(Anchor(face.landmarks), photo.MustacheAnchor()), tolerance);
    EXPECT_LE(Distance(face.landmarks.left_eye_center, photo.left_eye), tolerance);
    EXPECT_LE(Distance(face.landmarks.right_eye_center, photo.right_eye), tolerance);
    // Corners move with the smile more than the philtrum does.
    EXPECT_LE(Distance(face.landmarks.mouth_left, photo.mouth_left), 1.5f * tolerance);
    EXPECT_LE(Distance(face.landmarks.mouth_right, photo.mouth_right), 1.5f * tolerance);
    // Both photos are close to upright: the hand-checked eyes say by how much.
    const float hand_roll = internal::RollFromEyes(photo.left_eye, photo.right_eye);
    EXPECT_NEAR(face.roll_degrees, hand_roll, 5.0);
  }
}

// OpenCV turns the picture counter-clockwise for a positive angle, which
// rolls the face counter-clockwise: the proto's roll is then negative.
TEST_P(RealPhotoTest, FindsTheFaceRotatedTwentyDegreesEitherWayWithTheRollsSign) {
  for (const HandCheckedFace& photo : testing::PhotosWithOneFace()) {
    const cv::Mat image = LoadPhoto(photo.file);
    ASSERT_FALSE(image.empty());
    const float upright_roll = internal::RollFromEyes(photo.left_eye, photo.right_eye);
    for (const double opencv_degrees : {20.0, -20.0}) {
      SCOPED_TRACE(::testing::Message() << photo.file << " turned " << opencv_degrees);
      cv::Mat transform;
      const cv::Mat rotated = RotateAboutCentre(image, opencv_degrees, &transform);
      absl::StatusOr<Detection> detection = detector().Detect(rotated, {});
      ASSERT_THAT(detection, IsOk());
      MaybeDrawFaces(
          absl::StrCat(detector_setup().name, "_", photo.file, "_", opencv_degrees),
          rotated, *detection);
      ASSERT_FALSE(detection->faces.empty());
      const Face& face = detection->faces[0];  // the largest
      const float expected_roll = upright_roll - static_cast<float>(opencv_degrees);
      if (opencv_degrees > 0) {
        EXPECT_LT(face.roll_degrees, -10);
      } else {
        EXPECT_GT(face.roll_degrees, 10);
      }
      // Geometry alone knows the roll only as well as the finder's filter or
      // cascade pass that fired, unless the eye cascade sees both eyes.
      EXPECT_NEAR(face.roll_degrees, expected_roll,
                  detector_setup().landmark_model ? 5.0 : 8.0);
      const float tolerance = Tolerance(detector_setup()) * photo.InterOcularDistance();
      EXPECT_LE(
          Distance(Anchor(face.landmarks), MapPoint(transform, photo.MustacheAnchor())),
          tolerance);
      EXPECT_LE(
          Distance(face.landmarks.left_eye_center, MapPoint(transform, photo.left_eye)),
          tolerance);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSetups, RealPhotoTest, ::testing::ValuesIn(AllSetups()),
                         [](const auto& info) { return info.param.name; });

// Pictures without faces: synthetic ones and two real photos (a cup of
// coffee, a cat).
std::vector<std::pair<std::string, cv::Mat>> Negatives() {
  std::vector<std::pair<std::string, cv::Mat>> negatives;
  cv::Mat noise(480, 640, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(256));
  negatives.emplace_back("uniform_noise", noise);
  cv::Mat gaussian(600, 800, CV_8UC3);
  cv::randn(gaussian, cv::Scalar::all(128), cv::Scalar::all(40));
  negatives.emplace_back("gaussian_noise", gaussian);
  cv::Mat horizontal(480, 640, CV_8UC3), diagonal(700, 500, CV_8UC3);
  for (int y = 0; y < horizontal.rows; ++y) {
    for (int x = 0; x < horizontal.cols; ++x) {
      horizontal.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / 640, 100, 255 - x * 255 / 640);
    }
  }
  for (int y = 0; y < diagonal.rows; ++y) {
    for (int x = 0; x < diagonal.cols; ++x) {
      const auto v = static_cast<uchar>((x + y) * 255 / 1200);
      diagonal.at<cv::Vec3b>(y, x) = cv::Vec3b(v, v, v);
    }
  }
  negatives.emplace_back("horizontal_gradient", horizontal);
  negatives.emplace_back("diagonal_gradient", diagonal);
  negatives.emplace_back("black", cv::Mat(480, 640, CV_8UC3, cv::Scalar::all(0)));
  negatives.emplace_back("white", cv::Mat(480, 640, CV_8UC3, cv::Scalar::all(255)));
  negatives.emplace_back("red", cv::Mat(300, 300, CV_8UC3, cv::Scalar(0, 0, 255)));
  negatives.emplace_back("tiny_grey", cv::Mat(1, 1, CV_8UC3, cv::Scalar::all(128)));
  negatives.emplace_back("coffee", LoadPhoto("coffee.png"));
  negatives.emplace_back("cat", LoadPhoto("chelsea.png"));
  return negatives;
}

class NegativeTest : public ::testing::TestWithParam<DetectorSetup> {};

TEST_P(NegativeTest, FindsNoFaceWhereThereIsNone) {
  for (const auto& [name, image] : Negatives()) {
    ASSERT_FALSE(image.empty()) << name;
    absl::StatusOr<Detection> detection = SharedDetector(GetParam()).Detect(image, {});
    ASSERT_THAT(detection, IsOk()) << name;
    EXPECT_THAT(detection->faces, ::testing::IsEmpty()) << name;
    EXPECT_EQ(detection->image_size, image.size()) << name;
  }
}

// Nothing found means nothing to fit landmarks to: the finders are what
// matter here.
INSTANTIATE_TEST_SUITE_P(EachFinder, NegativeTest,
                         ::testing::Values(AllSetups()[2], AllSetups()[3],
                                           AllSetups()[5]),
                         [](const auto& info) { return info.param.name; });

TEST(DetectorTest, MapsCoordinatesBackFromTheSmallDetectionCopy) {
  const HandCheckedFace& grace = GraceHopper();
  const cv::Mat photo = LoadPhoto(grace.file);
  ASSERT_FALSE(photo.empty());
  for (const double factor : {2.0, 6.25}) {  // 1.2 and 12 megapixels
    SCOPED_TRACE(::testing::Message() << "enlarged " << factor << " times");
    cv::Mat large;
    cv::resize(photo, large, cv::Size(), factor, factor, cv::INTER_CUBIC);
    absl::StatusOr<Detection> detection = DefaultDetector().Detect(large, {});
    ASSERT_THAT(detection, IsOk());
    ASSERT_EQ(detection->faces.size(), 1u);
    const Face& face = detection->faces[0];
    ExpectPlausibleUprightFace(face);
    const float tolerance = 0.10f * grace.InterOcularDistance() * factor;
    EXPECT_LE(Distance(Anchor(face.landmarks), grace.MustacheAnchor() * factor),
              tolerance);
    EXPECT_LE(Distance(face.landmarks.left_eye_center, grace.left_eye * factor),
              tolerance);
    EXPECT_LE(Distance(face.landmarks.right_eye_center, grace.right_eye * factor),
              tolerance);
  }
}

std::string EncodeJpeg(const cv::Mat& image) {
  absl::StatusOr<std::string> jpeg =
      imaging::EncodeImage(image, imaging::ImageFormat::kJpeg, 95);
  EXPECT_THAT(jpeg, IsOk());
  return jpeg.ok() ? *jpeg : "";
}

// A phone held sideways stores the picture turned and says so in EXIF
// orientation 6 ("turn 90 degrees clockwise to view").
TEST(DetectorTest, ReportsCoordinatesInTheFrameExifOrientationSixGives) {
  const HandCheckedFace& grace = GraceHopper();
  const cv::Mat photo = LoadPhoto(grace.file);
  ASSERT_FALSE(photo.empty());
  cv::Mat stored;
  cv::rotate(photo, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
  const std::string sideways = EncodeJpeg(stored);

  absl::StatusOr<Detection> with_tag = DefaultDetector().DetectEncoded(
      stache::testing::WithExifOrientation(sideways, 6), {});
  ASSERT_THAT(with_tag, IsOk());
  EXPECT_EQ(with_tag->image_size, cv::Size(512, 600));
  ASSERT_EQ(with_tag->faces.size(), 1u);
  ExpectPlausibleUprightFace(with_tag->faces[0]);
  const float tolerance = 0.10f * grace.InterOcularDistance();
  EXPECT_LE(Distance(Anchor(with_tag->faces[0].landmarks), grace.MustacheAnchor()),
            tolerance);
  EXPECT_NEAR(with_tag->faces[0].roll_degrees, 0, 5);
  EXPECT_GT(with_tag->decode_duration_ms, 0);
  EXPECT_GT(with_tag->detect_duration_ms, 0);

  // Without the tag the same pixels are a sideways picture, in the stored
  // frame: no upright face where the tagged one was.
  absl::StatusOr<Detection> without_tag = DefaultDetector().DetectEncoded(sideways, {});
  ASSERT_THAT(without_tag, IsOk());
  EXPECT_EQ(without_tag->image_size, cv::Size(600, 512));
  for (const Face& face : without_tag->faces) {
    EXPECT_GT(Distance(Anchor(face.landmarks), grace.MustacheAnchor()), tolerance);
  }
}

// grace_hopper.jpg (face about 195 px wide) and astronaut.png (about 95 px)
// side by side on a 1024x600 canvas.
cv::Mat TwoFaces() {
  const cv::Mat grace = LoadPhoto("grace_hopper.jpg");
  const cv::Mat astronaut = LoadPhoto("astronaut.png");
  cv::Mat canvas(600, 1024, CV_8UC3, cv::Scalar::all(90));
  if (grace.empty() || astronaut.empty()) return canvas;
  grace.copyTo(canvas(cv::Rect(0, 0, 512, 600)));
  astronaut.copyTo(canvas(cv::Rect(512, 44, 512, 512)));
  return canvas;
}

TEST(DetectorTest, ReturnsTheLargestFacesFirstUpToMaxFaces) {
  const cv::Mat canvas = TwoFaces();
  // The astronaut's face is about 9% of the canvas width: the request's
  // minimum face size makes the detection copy large enough to see it.
  absl::StatusOr<Detection> all =
      QuickDetector().Detect(canvas, {.min_face_size_px = 60});
  ASSERT_THAT(all, IsOk());
  MaybeDrawFaces("two_faces", canvas, *all);
  ASSERT_GE(all->faces.size(), 2u);
  for (size_t i = 1; i < all->faces.size(); ++i) {
    EXPECT_GE(all->faces[i - 1].box.area(), all->faces[i].box.area());
  }
  EXPECT_LT(all->faces[0].box.x + all->faces[0].box.width, 512);  // Grace Hopper
  EXPECT_GT(all->faces[1].box.x, 512);                            // the astronaut
  const cv::Point2f astronaut_anchor =
      Astronaut().MustacheAnchor() + cv::Point2f(512, 44);
  EXPECT_LE(Distance(Anchor(all->faces[1].landmarks), astronaut_anchor),
            0.20f * Astronaut().InterOcularDistance());
  // At this size the HOG detector also takes the mission patch on the
  // astronaut's suit for a face, just above its threshold: a minimum
  // confidence removes it and keeps both people.
  for (size_t i = 2; i < all->faces.size(); ++i)
    EXPECT_LT(all->faces[i].confidence, 0.6f);
  absl::StatusOr<Detection> confident =
      QuickDetector().Detect(canvas, {.min_face_size_px = 60, .min_confidence = 0.6f});
  ASSERT_THAT(confident, IsOk());
  EXPECT_EQ(confident->faces.size(), 2u);

  absl::StatusOr<Detection> one =
      QuickDetector().Detect(canvas, {.max_faces = 1, .min_face_size_px = 60});
  ASSERT_THAT(one, IsOk());
  ASSERT_EQ(one->faces.size(), 1u);
  EXPECT_EQ(one->faces[0].box, all->faces[0].box);
}

TEST(DetectorTest, DefaultDetectionSizeMissesFacesBelowItsMinimum) {
  // Documents the trade-off of --detection_size_px: at 320 px for the long
  // side, a 95 px face on a 1024 px canvas is 30 px in the copy, too small.
  absl::StatusOr<Detection> detection = QuickDetector().Detect(TwoFaces(), {});
  ASSERT_THAT(detection, IsOk());
  for (const Face& face : detection->faces) EXPECT_LT(face.box.x, 512);
}

// Issue #16: the default finds faces of 5-9% of the long side; a 12 MP JPEG
// is decoded at 1/4 (about 1000 px), and the results are in its own pixels.
TEST(DetectorTest, FindsEveryFaceOfATwelveMegapixelGroupPhotoDecodedAtAQuarter) {
  absl::StatusOr<testing::GroupPhoto> photo = testing::MakeLargeGroupPhoto();
  ASSERT_THAT(photo, IsOk());
  absl::StatusOr<Detection> detection =
      DefaultDetector().DetectEncoded(EncodeJpeg(photo->pixels), {});
  ASSERT_THAT(detection, IsOk());
  EXPECT_EQ(detection->image_size, cv::Size(4000, 3000));
  EXPECT_EQ(detection->faces.size(), photo->faces.size());
  for (const testing::KnownFace& known : photo->faces) {
    SCOPED_TRACE(::testing::Message() << "face at " << known.box);
    const auto found = std::find_if(
        detection->faces.begin(), detection->faces.end(),
        [&](const Face& face) { return testing::BoxMatches(face.box, known); });
    ASSERT_NE(found, detection->faces.end());
    EXPECT_LE(Distance(Anchor(found->landmarks), known.mustache_anchor),
              0.1f * known.InterOcularDistance());
  }
}

// The old default, --face_finder=hog, for comparison: it looks at a 320 px
// copy and finds none of these faces.
TEST(DetectorTest, TheHogFinderMissesFacesOfFivePercent) {
  absl::StatusOr<std::vector<testing::GroupPhoto>> photos = testing::MakeGroupPhotos();
  ASSERT_THAT(photos, IsOk());
  absl::StatusOr<Detection> detection = QuickDetector().Detect((*photos)[1].pixels, {});
  ASSERT_THAT(detection, IsOk());
  EXPECT_THAT(detection->faces, ::testing::IsEmpty());
}

TEST(DetectorTest, DropsFacesBelowTheMinimumSize) {
  absl::StatusOr<Detection> detection =
      QuickDetector().Detect(TwoFaces(), {.min_face_size_px = 150});
  ASSERT_THAT(detection, IsOk());
  ASSERT_EQ(detection->faces.size(), 1u);
  EXPECT_GE(detection->faces[0].box.width, 150);
  EXPECT_LT(detection->faces[0].box.x, 512);

  const cv::Mat grace = LoadPhoto("grace_hopper.jpg");
  absl::StatusOr<Detection> none =
      QuickDetector().Detect(grace, {.min_face_size_px = 400});
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(none->faces, ::testing::IsEmpty());
}

TEST(DetectorTest, DropsFacesBelowTheMinimumConfidence) {
  const cv::Mat grace = LoadPhoto("grace_hopper.jpg");
  absl::StatusOr<Detection> all = QuickDetector().Detect(grace, {});
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->faces.size(), 1u);
  const float confidence = all->faces[0].confidence;
  absl::StatusOr<Detection> kept =
      QuickDetector().Detect(grace, {.min_confidence = confidence - 0.01f});
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->faces.size(), 1u);
  absl::StatusOr<Detection> dropped = QuickDetector().Detect(
      grace, {.min_confidence = std::min(1.f, confidence + 0.01f)});
  ASSERT_THAT(dropped, IsOk());
  EXPECT_THAT(dropped->faces, ::testing::IsEmpty());
}

TEST(DetectorTest, RejectsImpossibleOptions) {
  const cv::Mat image(100, 100, CV_8UC3, cv::Scalar::all(0));
  EXPECT_THAT(QuickDetector().Detect(image, {.max_faces = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_faces")));
  EXPECT_THAT(
      QuickDetector().Detect(image, {.min_face_size_px = -5}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_face_size_px")));
  for (const float confidence : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    EXPECT_THAT(
        QuickDetector().Detect(image, {.min_confidence = confidence}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_confidence")));
  }
}

TEST(DetectorTest, AcceptsGreyAndBgraPixelsAndRejectsOthers) {
  const cv::Mat grace = LoadPhoto("grace_hopper.jpg");
  cv::Mat grey, bgra, floats;
  cv::cvtColor(grace, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grace, bgra, cv::COLOR_BGR2BGRA);
  grace.convertTo(floats, CV_32FC3);
  for (const cv::Mat& image : {grey, bgra}) {
    absl::StatusOr<Detection> detection = QuickDetector().Detect(image, {});
    ASSERT_THAT(detection, IsOk());
    EXPECT_EQ(detection->faces.size(), 1u);
  }
  EXPECT_THAT(QuickDetector().Detect(floats, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8-bit")));
  EXPECT_THAT(QuickDetector().Detect(cv::Mat(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(DetectorTest, RefusesEveryKindOfBadInputWithAMessage) {
  for (const BadImage& bad : BadImages()) {
    EXPECT_THAT(QuickDetector().DetectEncoded(bad.bytes, {}),
                StatusIs(bad.code, HasSubstr(bad.message_part)))
        << bad.name;
  }
}

TEST(DetectorTest, AppliesTheConfiguredPixelLimitBeforeDecoding) {
  DetectorConfig config{.landmark_model_path = "", .max_pixels = 512 * 600 - 1};
  absl::StatusOr<std::unique_ptr<FaceDetector>> detector = FaceDetector::Create(config);
  ASSERT_THAT(detector, IsOk());
  const std::string jpeg =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  EXPECT_THAT((*detector)->DetectEncoded(jpeg, {}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("512 x 600")));
}

// Issue #12: the decoded size counts in bytes, and all decodes share the
// process's budget.
TEST(DetectorTest, AppliesTheDecodedByteLimitAndTheDecodeBudget) {
  const std::string jpeg =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  absl::StatusOr<std::unique_ptr<FaceDetector>> by_bytes = FaceDetector::Create(
      {.landmark_model_path = "", .max_decoded_bytes = 512 * 600 * 3 - 1});
  ASSERT_THAT(by_bytes, IsOk());
  EXPECT_THAT((*by_bytes)->DetectEncoded(jpeg, {}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("MB decoded")));
  absl::StatusOr<std::unique_ptr<FaceDetector>> by_budget =
      FaceDetector::Create({.landmark_model_path = "", .decode_memory_bytes = 1'000'000});
  ASSERT_THAT(by_budget, IsOk());
  EXPECT_THAT(
      (*by_budget)->DetectEncoded(jpeg, {}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("all images at once")));
}

// A call whose caller gave up, or whose deadline passed, stops at the next
// stage instead of finishing work nobody will read (#12).
TEST(DetectorTest, StopsBetweenStagesOnceCancelledOrPastTheDeadline) {
  const std::string jpeg =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  EXPECT_THAT(QuickDetector().DetectEncoded(jpeg, {}, {.cancelled = [] { return true; }}),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("decoding")));
  EXPECT_THAT(QuickDetector().DetectEncoded(jpeg, {},
                                            {.deadline = absl::Now() - absl::Seconds(1)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("decoding")));
  const cv::Mat canvas = TwoFaces();
  const DetectOptions options{.min_face_size_px = 60};
  // Asked before finding faces and again before each face's landmarks.
  int checks = 0;
  absl::StatusOr<Detection> all =
      QuickDetector().Detect(canvas, options, {.cancelled = [&] {
                               ++checks;
                               return false;
                             }});
  ASSERT_THAT(all, IsOk());
  ASSERT_GE(all->faces.size(), 2u);
  EXPECT_EQ(checks, 1 + static_cast<int>(all->faces.size()));
  // Cancelled once the faces are found: no landmarks are fitted.
  checks = 0;
  EXPECT_THAT(QuickDetector().Detect(canvas, options,
                                     {.cancelled = [&] { return ++checks > 1; }}),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("face 0's landmarks")));
  EXPECT_THAT(
      QuickDetector().Detect(canvas, options, {.cancelled = [&] { return true; }}),
      StatusIs(absl::StatusCode::kCancelled, HasSubstr("finding faces")));
  // The cascade finder works in three passes (upright, rolled either way)
  // and checks between them.
  const FaceDetector& cascade = SharedDetector(AllSetups()[3]);
  checks = 0;
  EXPECT_THAT(
      cascade.Detect(canvas, options, {.cancelled = [&] { return ++checks > 2; }}),
      StatusIs(absl::StatusCode::kCancelled, HasSubstr("rolled 20 degrees")));
}

// Several threads share one detector, as the server's threads do. The
// results must be exactly those of one thread: no shared scratch state.
TEST(DetectorTest, ConcurrentCallsGiveTheSameResultsAsOneAtATime) {
  for (const DetectorSetup& setup : {AllSetups()[0], AllSetups()[3]}) {
    SCOPED_TRACE(setup.name);
    const FaceDetector& detector = SharedDetector(setup);
    const std::vector<cv::Mat> images = {LoadPhoto("grace_hopper.jpg"),
                                         LoadPhoto("astronaut.png")};
    std::vector<Face> expected;
    for (const cv::Mat& image : images) {
      absl::StatusOr<Detection> detection = detector.Detect(image, {});
      ASSERT_THAT(detection, IsOk());
      ASSERT_EQ(detection->faces.size(), 1u);
      expected.push_back(detection->faces[0]);
    }
    constexpr int kThreads = 4;
    constexpr int kCallsPerThread = 6;
    std::vector<std::vector<Face>> found(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int call = 0; call < kCallsPerThread; ++call) {
          absl::StatusOr<Detection> detection =
              detector.Detect(images[(t + call) % 2], {});
          found[t].push_back(detection.ok() && detection->faces.size() == 1
                                 ? detection->faces[0]
                                 : Face{.confidence = -1});
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) {
      for (int call = 0; call < kCallsPerThread; ++call) {
        const Face& face = found[t][call];
        const Face& want = expected[(t + call) % 2];
        EXPECT_EQ(face.box, want.box) << "thread " << t << " call " << call;
        EXPECT_EQ(face.confidence, want.confidence);
        EXPECT_EQ(face.roll_degrees, want.roll_degrees);
        EXPECT_EQ(Anchor(face.landmarks), Anchor(want.landmarks));
      }
    }
  }
}

TEST(DetectorConfigTest, NamesAMissingOrUnreadableModelFile) {
  EXPECT_THAT(
      FaceDetector::Create({.landmark_model_path = "/nonexistent/landmarks.dat"}),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/landmarks.dat")));
  EXPECT_THAT(FaceDetector::Create({.face_finder = FaceFinderKind::kCascade,
                                    .face_cascade_path = "/nonexistent/face.xml"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/face.xml")));
  EXPECT_THAT(
      FaceDetector::Create({.coarse_cascade_path = "/nonexistent/coarse.xml"}),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/coarse.xml")));
  EXPECT_THAT(FaceDetector::Create({.eye_cascade_path = "/nonexistent/eye.xml",
                                    .landmark_model_path = ""}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/eye.xml")));

  const std::string garbage = MakeTempDir() + "/garbage.dat";
  std::ofstream(garbage) << "not a model, not a cascade";
  EXPECT_THAT(FaceDetector::Create({.landmark_model_path = garbage}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(garbage + " is not a dlib shape predictor")));
  EXPECT_THAT(FaceDetector::Create({.face_finder = FaceFinderKind::kCascade,
                                    .face_cascade_path = garbage}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(garbage + " is not an OpenCV cascade")));
}

TEST(DetectorConfigTest, RejectsImpossibleSettings) {
  EXPECT_THAT(
      FaceDetector::Create({.detection_size_px = 10}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("detection_size_px")));
  EXPECT_THAT(
      FaceDetector::Create({.detection_size_px = 800, .max_detection_size_px = 400}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_detection_size_px")));
  EXPECT_THAT(FaceDetector::Create({.max_pixels = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_pixels")));
  EXPECT_THAT(
      FaceDetector::Create({.max_decoded_bytes = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_decoded_bytes")));
  EXPECT_THAT(
      FaceDetector::Create({.decode_memory_bytes = -1}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decode_memory_bytes")));
  EXPECT_THAT(FaceDetector::Create({.defaults = {.max_faces = 0}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_faces")));
  for (const float fraction : {0.f, -0.1f, 1.5f}) {
    EXPECT_THAT(
        FaceDetector::Create({.min_face_fraction = fraction}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_face_fraction")));
  }
  EXPECT_THAT(FaceDetector::Create({.min_decoded_long_side_px = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("min_decoded_long_side_px")));
  EXPECT_THAT(
      FaceDetector::Create({.min_face_floor_px = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_face_floor_px")));
  EXPECT_THAT(FaceDetector::Create({.coarse_cascade_path = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("coarse cascade")));
}

TEST(DetectorConfigTest, ListsTheModelsItLoaded) {
  auto names = [](const FaceDetector& detector) {
    std::vector<std::string> names;
    for (const LoadedModel& model : detector.loaded_models()) names.push_back(model.name);
    return names;
  };
  using ::testing::ElementsAre;
  EXPECT_THAT(names(SharedDetector(AllSetups()[0])),
              ElementsAre("dlib_hog_frontal_face", "shape_predictor_68"));
  EXPECT_THAT(names(SharedDetector(AllSetups()[2])),
              ElementsAre("dlib_hog_frontal_face", "eye_cascade"));
  EXPECT_THAT(names(SharedDetector(AllSetups()[3])),
              ElementsAre("face_cascade", "eye_cascade"));
  EXPECT_EQ(SharedDetector(AllSetups()[3]).loaded_models()[0].detail,
            DetectorConfig().face_cascade_path);
  EXPECT_EQ(SharedDetector(AllSetups()[0]).loaded_models()[1].detail,
            DetectorConfig().landmark_model_path);
  EXPECT_THAT(
      names(SharedDetector(AllSetups()[4])),
      ElementsAre("coarse_face_cascade", "dlib_hog_frontal_face", "shape_predictor_68"));
  EXPECT_EQ(SharedDetector(AllSetups()[4]).loaded_models()[0].detail,
            DetectorConfig().coarse_cascade_path);

  absl::StatusOr<std::unique_ptr<FaceDetector>> box_only =
      FaceDetector::Create({.face_finder = FaceFinderKind::kHog,
                            .eye_cascade_path = "",
                            .landmark_model_path = ""});
  ASSERT_THAT(box_only, IsOk());
  EXPECT_THAT(names(**box_only), ElementsAre("dlib_hog_frontal_face"));
  absl::StatusOr<Detection> detection =
      (*box_only)->Detect(LoadPhoto("grace_hopper.jpg"), {});
  ASSERT_THAT(detection, IsOk());
  ASSERT_EQ(detection->faces.size(), 1u);
  ExpectPlausibleUprightFace(detection->faces[0]);
  EXPECT_EQ(detection->faces[0].landmark_source, LandmarkSource::kCascadeGeometry);
}

TEST(FaceFinderKindTest, ParsesItsNames) {
  for (FaceFinderKind kind :
       {FaceFinderKind::kCoarseToFine, FaceFinderKind::kHog, FaceFinderKind::kCascade}) {
    FaceFinderKind parsed =
        kind == FaceFinderKind::kHog ? FaceFinderKind::kCascade : FaceFinderKind::kHog;
    EXPECT_TRUE(ParseFaceFinderKind(FaceFinderName(kind), &parsed));
    EXPECT_EQ(parsed, kind);
  }
  FaceFinderKind parsed;
  EXPECT_FALSE(ParseFaceFinderKind("haar", &parsed));
}

TEST(FaceGeometryTest, RollIsPositiveWhenTheEyeLineFallsToTheRight) {
  EXPECT_NEAR(internal::RollFromEyes({100, 100}, {200, 100}), 0, 1e-4);
  EXPECT_NEAR(internal::RollFromEyes({100, 100}, {200, 200}), 45, 1e-4);
  EXPECT_NEAR(internal::RollFromEyes({100, 100}, {200, 0}), -45, 1e-4);
}

TEST(FaceGeometryTest, BoxAndEyeGeometryAgree) {
  const cv::Rect2f box(100, 50, 200, 200);
  for (const float roll : {-20.f, 0.f, 20.f}) {
    const FaceLandmarks from_box = internal::LandmarksFromBox(box, roll);
    EXPECT_NEAR(
        internal::RollFromEyes(from_box.left_eye_center, from_box.right_eye_center), roll,
        1e-3);
    const cv::Rect2f back =
        internal::BoxFromEyes(from_box.left_eye_center, from_box.right_eye_center);
    EXPECT_NEAR(back.x, box.x, 1e-3);
    EXPECT_NEAR(back.y, box.y, 1e-3);
    EXPECT_NEAR(back.width, box.width, 1e-3);
    const FaceLandmarks from_eyes =
        internal::LandmarksFromEyes(from_box.left_eye_center, from_box.right_eye_center);
    EXPECT_LT(Distance(from_eyes.upper_lip_top, from_box.upper_lip_top), 1e-3);
  }
  const FaceLandmarks upright = internal::LandmarksFromBox(box, 0);
  EXPECT_TRUE(box.contains(upright.mouth_left) && box.contains(upright.mouth_right));
  EXPECT_LT(upright.left_eye_center.y, upright.nose_base.y);
  EXPECT_LT(upright.nose_base.y, upright.upper_lip_top.y);
}

// The average face used without the model is the one the model sees in
// the test photos: from its eyes, the rest lands near its own points.
TEST(FaceGeometryTest, AverageFaceMatchesTheShapePredictorOnThePhotos) {
  for (const HandCheckedFace& photo : testing::PhotosWithOneFace()) {
    absl::StatusOr<Detection> detection =
        DefaultDetector().Detect(LoadPhoto(photo.file), {});
    ASSERT_THAT(detection, IsOk());
    ASSERT_EQ(detection->faces.size(), 1u);
    const FaceLandmarks& fitted = detection->faces[0].landmarks;
    const FaceLandmarks average =
        internal::LandmarksFromEyes(fitted.left_eye_center, fitted.right_eye_center);
    const float eye_distance = Distance(fitted.left_eye_center, fitted.right_eye_center);
    EXPECT_LE(Distance(average.nose_base, fitted.nose_base), 0.1f * eye_distance)
        << photo.file;
    EXPECT_LE(Distance(average.upper_lip_top, fitted.upper_lip_top), 0.1f * eye_distance);
    EXPECT_LE(Distance(average.mouth_left, fitted.mouth_left), 0.15f * eye_distance);
    EXPECT_LE(Distance(average.mouth_right, fitted.mouth_right), 0.15f * eye_distance);
  }
}

TEST(ObjectPoolTest, ConcurrentBorrowersGetTheirOwnInstance) {
  std::atomic<int> made{0};
  internal::ObjectPool<int> pool([&] { return std::make_unique<int>(++made); });
  {
    auto first = pool.Acquire();
    auto second = pool.Acquire();  // while the first is still out
    EXPECT_NE(&*first, &*second);
    EXPECT_EQ(made.load(), 2);
  }
  EXPECT_EQ(pool.idle_count(), 2u);
  { auto again = pool.Acquire(); }
  EXPECT_EQ(made.load(), 2);  // reused, not made again
}

}  // namespace
}  // namespace stache::detector
