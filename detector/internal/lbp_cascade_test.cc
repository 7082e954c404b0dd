#include "detector/internal/lbp_cascade.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "detector/detector.h"
#include "detector/testing/detector_test_inputs.h"
#include "detector/testing/group_photos.h"

namespace stache::detector::internal {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<cv::Rect> Sorted(std::vector<cv::Rect> rects) {
  std::sort(rects.begin(), rects.end(), [](const cv::Rect& a, const cv::Rect& b) {
    return std::tie(a.width, a.y, a.x) < std::tie(b.width, b.y, b.x);
  });
  return rects;
}

// The oracle: OpenCV's own evaluation of the same cascade, ungrouped.
std::vector<cv::Rect> OpenCvHits(const std::string& xml, const cv::Mat& grey,
                                 double scale_step, cv::Size min_size,
                                 cv::Size max_size) {
  cv::CascadeClassifier cascade;
  cv::FileStorage storage(xml, cv::FileStorage::READ | cv::FileStorage::MEMORY);
  EXPECT_TRUE(cascade.read(storage.getFirstTopLevelNode()));
  std::vector<cv::Rect> hits;
  std::vector<int> neighbours;
  cascade.detectMultiScale(grey, hits, neighbours, scale_step, /*minNeighbors=*/0, 0,
                           min_size, max_size);
  return Sorted(hits);
}

std::vector<cv::Rect> OurHits(const LbpCascade& cascade, const cv::Mat& grey,
                              double scale_step, cv::Size min_size, cv::Size max_size) {
  std::vector<cv::Rect> hits;
  cascade.Scan(grey, scale_step, min_size, max_size, &hits);
  return Sorted(hits);
}

cv::Mat Grey(const cv::Mat& bgr, double scale) {
  cv::Mat small, grey;
  cv::resize(bgr, small, cv::Size(), scale, scale, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  return grey;
}

// Photos with faces of many sizes and photos without any, at sizes where
// both the two-pixel steps (scales under 2) and the one-pixel steps run.
std::vector<cv::Mat> TestImages() {
  std::vector<cv::Mat> images;
  images.push_back(Grey(testing::LoadPhoto("grace_hopper.jpg"), 0.6));
  images.push_back(Grey(testing::LoadPhoto("astronaut.png"), 0.5));
  absl::StatusOr<std::vector<testing::GroupPhoto>> groups = testing::MakeGroupPhotos();
  EXPECT_TRUE(groups.ok()) << groups.status();
  if (groups.ok()) {
    for (size_t i = 0; i < groups->size() && i < 3; ++i) {
      images.push_back(Grey((*groups)[i].pixels, 0.45));
    }
  }
  for (const std::string& file : testing::FaceFreePhotoFiles()) {
    if (images.size() >= 8) break;
    cv::Mat photo = testing::LoadPhoto(file);
    if (!photo.empty()) images.push_back(Grey(photo, 300.0 / photo.cols));
  }
  // Odd sizes, so that the last windows of a row fall in a partial lane group.
  cv::Mat noise(131, 217, CV_8UC1);
  cv::randu(noise, 0, 256);
  images.push_back(noise);
  return images;
}

class LbpCascadeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LbpCascadeTest, AcceptsExactlyTheWindowsOpenCvAccepts) {
  const std::string xml = ReadFile(GetParam());
  ASSERT_FALSE(xml.empty()) << GetParam();
  absl::StatusOr<LbpCascade> cascade = LbpCascade::FromXml(xml);
  ASSERT_TRUE(cascade.ok()) << cascade.status();
  // Every size; one size; a range starting above the window; a range as
  // the coarse finder's octaves scan (sizes below twice the window).
  const cv::Size window = cascade->window();
  size_t compared = 0;
  for (const cv::Mat& grey : TestImages()) {
    for (const auto& [step, min_size, max_size] :
         {std::tuple{1.1, cv::Size(), cv::Size()}, std::tuple{1.1, window, window},
          std::tuple{1.15, window * 5 / 4, window * 5 / 2},
          std::tuple{1.1, window, window * 9 / 5}}) {
      const std::vector<cv::Rect> expected =
          OpenCvHits(xml, grey, step, min_size, max_size);
      EXPECT_EQ(OurHits(*cascade, grey, step, min_size, max_size), expected)
          << grey.size() << " step " << step << " sizes " << min_size << "-" << max_size;
      compared += expected.size();
    }
  }
  // The comparison means something only if the cascade fires.
  EXPECT_GT(compared, 100u);
}

INSTANTIATE_TEST_SUITE_P(DebianCascades, LbpCascadeTest,
                         ::testing::Values(DetectorConfig().coarse_cascade_path,
                                           DetectorConfig().face_cascade_path));

TEST(LbpCascadeFromXmlTest, RefusesWhatIsNotAnLbpStumpCascade) {
  EXPECT_THAT(LbpCascade::FromXml("not xml").status().message(),
              HasSubstr("not an LBP stump cascade"));
  const std::string haar =
      ReadFile("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml");
  ASSERT_FALSE(haar.empty());
  EXPECT_THAT(LbpCascade::FromXml(haar).status().message(),
              HasSubstr("features are not LBP"));
}

}  // namespace
}  // namespace stache::detector::internal
