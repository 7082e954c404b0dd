#include "detector/internal/shape_model.h"

#include <dlib/image_processing/shape_predictor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "detector/detector.h"
#include "detector/testing/detector_test_inputs.h"
#include "tests/testing/process.h"

namespace stache::detector::internal {
namespace {

using ::testing::HasSubstr;

const std::string& ModelPath() {
  static const std::string* path = new std::string(DetectorConfig().landmark_model_path);
  return *path;
}

// The oracle, dlib's own predictor, and ours, both from the Debian file.
struct Models {
  dlib::shape_predictor dlib;
  ShapeModel ours;
};

const Models& LoadedModels() {
  static const Models* models = [] {
    dlib::shape_predictor dlib;
    dlib::deserialize(ModelPath()) >> dlib;
    absl::StatusOr<ShapeModel> ours = ShapeModel::Load(ModelPath());
    EXPECT_TRUE(ours.ok()) << ours.status();
    return new Models{std::move(dlib), *std::move(ours)};
  }();
  return *models;
}

// Boxes around each hand-checked face: where the finder would put it,
// shifted, grown, shrunk, off the image's edge, and nowhere near a face.
std::vector<dlib::rectangle> Boxes(const testing::HandCheckedFace& face) {
  const cv::Point2f centre = (face.left_eye + face.right_eye) * 0.5f;
  const float width = 2.3f * face.InterOcularDistance();
  std::vector<dlib::rectangle> boxes;
  for (float grow : {0.8f, 1.0f, 1.25f}) {
    for (float dx : {-0.15f, 0.f, 0.1f}) {
      for (float dy : {-0.1f, 0.2f}) {
        const float w = width * grow;
        const float x = centre.x + dx * width - w / 2;
        const float y = centre.y + dy * width - w / 4;
        boxes.emplace_back(std::lround(x), std::lround(y), std::lround(x + w),
                           std::lround(y + w));
      }
    }
  }
  boxes.emplace_back(-60, -40, 100, 120);  // off the corner
  boxes.emplace_back(face.size.width - 90, 10, face.size.width + 70,
                     170);           // off the side
  boxes.emplace_back(0, 0, 40, 40);  // no face, small
  return boxes;
}

// dlib gives whole pixels, so a difference in the sums shows only where it
// moves a point across a pixel's rounding; over 21 boxes on each of two
// photos (68 points each) any systematic difference would.
TEST(ShapeModelTest, FitsEveryPointWhereDlibsOwnPredictorDoes) {
  const Models& models = LoadedModels();
  ASSERT_EQ(models.ours.num_parts(), models.dlib.num_parts());
  int compared = 0;
  for (const testing::HandCheckedFace& face : testing::PhotosWithOneFace()) {
    const cv::Mat bgr = testing::LoadPhoto(face.file);
    ASSERT_FALSE(bgr.empty());
    const dlib::cv_image<dlib::bgr_pixel> image(bgr);
    for (const dlib::rectangle& box : Boxes(face)) {
      const dlib::full_object_detection theirs = models.dlib(image, box);
      const dlib::full_object_detection ours = models.ours(image, box);
      ASSERT_EQ(ours.num_parts(), theirs.num_parts());
      EXPECT_EQ(ours.get_rect(), theirs.get_rect());
      for (unsigned long i = 0; i < theirs.num_parts(); ++i) {
        EXPECT_EQ(ours.part(i), theirs.part(i))
            << face.file << ", box " << box << ", point " << i;
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, 40);
}

TEST(ShapeModelTest, RefusesFilesThatAreNotShapePredictors) {
  const std::string dir = stache::testing::MakeTempDir();
  const std::string path = dir + "/not_a_model.dat";
  std::ofstream(path) << "this is not a dlib shape predictor";
  absl::StatusOr<ShapeModel> model = ShapeModel::Load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("is not a dlib shape predictor file"));
  EXPECT_THAT(model.status().message(), HasSubstr(path));

  absl::StatusOr<ShapeModel> missing = ShapeModel::Load(dir + "/missing.dat");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.dat"));
}

}  // namespace
}  // namespace stache::detector::internal
