#include "detector/internal/lbp_cascade.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "detector/detector.h"
#include "detector/internal/model_files.h"
#include "detector/testing/detector_test_inputs.h"
#include "detector/testing/group_photos.h"

namespace stache::detector::internal {
namespace {

using ::testing::HasSubstr;

// The file's contents, as the detector reads cascades; empty, and a test
// failure, when it cannot be read or is not a cascade.
std::string ReadFile(const std::string& path) {
  absl::StatusOr<std::string> xml = ReadCascadeFile(path, "test cascade");
  EXPECT_TRUE(xml.ok()) << xml.status();
  return xml.value_or("");
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
  std::vector<cv::Rect> hits;
  std::vector<int> neighbours;
  CascadeFromXml(xml)->detectMultiScale(grey, hits, neighbours, scale_step,
                                        /*minNeighbors=*/0, 0, min_size, max_size);
  return Sorted(hits);
}

std::vector<cv::Rect> OurHits(const LbpCascade& cascade, const cv::Mat& grey,
                              double scale_step, cv::Size min_size, cv::Size max_size,
                              bool use_avx2) {
  std::vector<cv::Rect> hits;
  cascade.Scan(grey, scale_step, min_size, max_size, &hits, {}, use_avx2);
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
      // Both builds of the stage loop (and of the shrink it uses): with
      // AVX2 where the CPU has it, and the one for CPUs without.
      for (bool use_avx2 : {true, false}) {
        EXPECT_EQ(OurHits(*cascade, grey, step, min_size, max_size, use_avx2), expected)
            << grey.size() << " step " << step << " sizes " << min_size << "-" << max_size
            << (use_avx2 ? "" : " without AVX2");
      }
      compared += expected.size();
    }
  }
  // The comparison means something only if the cascade fires.
  EXPECT_GT(compared, 100u);
}

bool CentredIn(const cv::Rect& r, const std::vector<cv::Point2f>& region) {
  const cv::Point2f centre(r.x + r.width / 2.f, r.y + r.height / 2.f);
  // Rounding puts a centre up to a pixel from where the scan computed it.
  return cv::pointPolygonTest(region, centre, /*measureDist=*/true) > -1.5;
}

TEST_P(LbpCascadeTest, ARegionKeepsTheWindowsCentredInIt) {
  absl::StatusOr<LbpCascade> cascade = LbpCascade::FromXml(ReadFile(GetParam()));
  ASSERT_TRUE(cascade.ok()) << cascade.status();
  const cv::Mat grey = Grey(testing::LoadPhoto("grace_hopper.jpg"), 0.6);
  ASSERT_FALSE(grey.empty());
  const float w = static_cast<float>(grey.cols);
  const float h = static_cast<float>(grey.rows);
  std::vector<cv::Rect> all;
  cascade->Scan(grey, 1.1, cv::Size(), cv::Size(), &all);
  ASSERT_FALSE(all.empty());

  // The whole image: the same windows.
  std::vector<cv::Rect> whole;
  cascade->Scan(grey, 1.1, cv::Size(), cv::Size(), &whole,
                {{0, 0}, {w, 0}, {w, h}, {0, h}});
  EXPECT_EQ(Sorted(whole), Sorted(all));

  // Rows cut, every row from its first window: exactly the windows centred
  // in the region (give or take the pixel that rounding moves a centre).
  const std::vector<cv::Point2f> top_half = {{0, 0}, {w, 0}, {w, h / 2}, {0, h / 2}};
  std::vector<cv::Rect> in_top_half;
  cascade->Scan(grey, 1.1, cv::Size(), cv::Size(), &in_top_half, top_half);
  EXPECT_FALSE(in_top_half.empty());
  for (const cv::Rect& r : all) {
    const float centre_y = r.y + r.height / 2.f;
    const bool kept = std::count(in_top_half.begin(), in_top_half.end(), r) > 0;
    if (centre_y < h / 2 - 1) {
      EXPECT_TRUE(kept) << r;
    } else if (centre_y > h / 2 + 1) {
      EXPECT_FALSE(kept) << r;
    }
  }
  for (const cv::Rect& r : in_top_half) {
    EXPECT_TRUE(std::count(all.begin(), all.end(), r) > 0) << r;
  }

  // A turned square around the face: every window centred in it.
  const std::vector<cv::Point2f> diamond = {
      {w / 2, h * 0.1f}, {w * 0.9f, h / 2}, {w / 2, h * 0.9f}, {w * 0.1f, h / 2}};
  std::vector<cv::Rect> in_diamond;
  cascade->Scan(grey, 1.1, cv::Size(), cv::Size(), &in_diamond, diamond);
  EXPECT_FALSE(in_diamond.empty());
  for (const cv::Rect& r : in_diamond) EXPECT_TRUE(CentredIn(r, diamond)) << r;
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

  // A stump naming a feature past the end, as a damaged file might.
  std::string xml = ReadFile(DetectorConfig().coarse_cascade_path);
  const std::string first_stump = "0 -1 46 ";
  const size_t at = xml.find(first_stump);
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, first_stump.size(), "0 -1 4600 ");
  EXPECT_THAT(LbpCascade::FromXml(xml).status().message(),
              HasSubstr("names a feature that does not exist"));

  // Blocks of more than 257 pixels, whose sums would not fit the 16 bits
  // the stage loop keeps (in a window made large enough to hold them).
  xml = ReadFile(DetectorConfig().coarse_cascade_path);
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"<width>24</width>", "<width>60</width>"},
        {"<height>24</height>", "<height>60</height>"},
        {"0 0 3 5</rect>", "0 0 17 17</rect>"}}) {
    const size_t found = xml.find(from);
    ASSERT_NE(found, std::string::npos) << from;
    xml.replace(found, from.size(), to);
  }
  EXPECT_THAT(LbpCascade::FromXml(xml).status().message(),
              HasSubstr("blocks are larger than 257 pixels"));
}

}  // namespace
}  // namespace stache::detector::internal
