#include "detector/internal/shrink.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <vector>

#include "detector/testing/detector_test_inputs.h"

namespace stache::detector::internal {
namespace {

cv::Mat OpenCvShrink(const cv::Mat& grey, cv::Size size) {
  cv::Mat result;
  cv::resize(grey, result, size, 0, 0, cv::INTER_AREA);
  return result;
}

// The number of pixels where the two differ (0: the same image).
int DifferentPixels(const cv::Mat& ours, const cv::Mat& theirs) {
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_EQ(ours.type(), theirs.type());
  if (ours.size() != theirs.size() || ours.type() != theirs.type()) return -1;
  return cv::countNonZero(ours != theirs);
}

cv::Mat Noise(cv::Size size, int seed) {
  cv::Mat noise(size, CV_8UC1);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  return noise;
}

cv::Mat PhotoGrey() {
  cv::Mat grey;
  cv::cvtColor(testing::LoadPhoto("grace_hopper.jpg"), grey, cv::COLOR_BGR2GRAY);
  return grey;
}

cv::Mat OpenCvBilinear(const cv::Mat& grey, cv::Size size) {
  cv::Mat result;
  cv::resize(grey, result, size, 0, 0, cv::INTER_LINEAR_EXACT);
  return result;
}

cv::Mat OurBilinear(const cv::Mat& grey, cv::Size size, bool use_avx2) {
  cv::Mat result;
  ShrinkBilinearExact(grey, size, &result, use_avx2);
  return result;
}

using Ours = cv::Mat (*)(const cv::Mat& grey, cv::Size size, bool use_avx2);
using Theirs = cv::Mat (*)(const cv::Mat& grey, cv::Size size);

// Ours and OpenCV's give the same pixels, with AVX2 and without, on the
// photo at `photo_sizes` and on 40 random sizes of noise.
void ExpectOpenCvsPixels(Ours ours, Theirs theirs,
                         const std::vector<cv::Size>& photo_sizes) {
  const cv::Mat photo = PhotoGrey();  // 512x600
  for (const cv::Size& size : photo_sizes) {
    const cv::Mat expected = theirs(photo, size);
    EXPECT_EQ(DifferentPixels(ours(photo, size, true), expected), 0)
        << "photo to " << size;
    EXPECT_EQ(DifferentPixels(ours(photo, size, false), expected), 0)
        << "photo to " << size << ", without AVX2";
  }
  for (int seed = 0; seed < 40; ++seed) {
    cv::RNG rng(seed);
    const cv::Size from(rng.uniform(2, 900), rng.uniform(2, 900));
    const cv::Size to(rng.uniform(1, from.width + 1), rng.uniform(1, from.height + 1));
    const cv::Mat noise = Noise(from, seed);
    const cv::Mat expected = theirs(noise, to);
    EXPECT_EQ(DifferentPixels(ours(noise, to, true), expected), 0)
        << "noise " << from << " to " << to;
    EXPECT_EQ(DifferentPixels(ours(noise, to, false), expected), 0)
        << "noise " << from << " to " << to << ", without AVX2";
  }
}

TEST(ShrinkByAreaTest, IsOpenCvsAreaShrinkPixelForPixel) {
  // The coarse finder's ratios (about 1.95 per octave, 2-3 for the coarse
  // copy), ratios under 1.5 (two taps) and up to 7 (eight), odd sizes.
  ExpectOpenCvsPixels(ShrinkByArea, OpenCvShrink,
                      {{263, 308},
                       {233, 273},
                       {120, 141},
                       {511, 599},
                       {400, 599},
                       {341, 500},
                       {73, 86},
                       {300, 200},
                       {257, 301},
                       {1, 1},
                       {1, 600},
                       {512, 7}});
}

TEST(ShrinkByAreaTest, ReadsAPartOfAnImageAsItsOwnImage) {
  const cv::Mat photo = PhotoGrey();
  const cv::Mat part = photo(cv::Rect(31, 17, 300, 400));
  ASSERT_FALSE(part.isContinuous());
  const cv::Size size(139, 187);
  EXPECT_EQ(DifferentPixels(ShrinkByArea(part, size), OpenCvShrink(part.clone(), size)),
            0);
}

TEST(ShrinkByAreaTest, WholeRatiosAndEnlargingAreOpenCvsOwn) {
  const cv::Mat photo = PhotoGrey();
  for (const cv::Size& size : {cv::Size(256, 300), cv::Size(128, 150), cv::Size(512, 600),
                               cv::Size(700, 600), cv::Size(600, 300)}) {
    EXPECT_EQ(DifferentPixels(ShrinkByArea(photo, size), OpenCvShrink(photo, size)), 0)
        << "photo to " << size;
  }
}

TEST(ShrinkBilinearExactTest, IsOpenCvsBitExactBilinearPixelForPixel) {
  // The cascade's scales (steps of 1.1 up to just under 2), ratios just
  // over 1 and up to 4, half (OpenCV then averages), the same size, sizes
  // of one and two pixels, and odd sizes.
  std::vector<cv::Size> sizes = {{511, 599}, {256, 300}, {512, 600}, {1, 1},
                                 {2, 600},   {512, 2},   {255, 301}, {3, 3},
                                 {129, 151}, {100, 90}};
  for (double factor = 1.1; factor < 2; factor *= 1.1) {
    sizes.emplace_back(cvRound(512 / factor), cvRound(600 / factor));
  }
  ExpectOpenCvsPixels(OurBilinear, OpenCvBilinear, sizes);
}

TEST(ShrinkBilinearExactTest, ReusesTheResultsBufferAndReadsPartsOfImages) {
  const cv::Mat photo = PhotoGrey();
  const cv::Mat part = photo(cv::Rect(31, 17, 300, 400));
  ASSERT_FALSE(part.isContinuous());
  cv::Mat result;
  ShrinkBilinearExact(part, cv::Size(250, 333), &result);
  const uchar* buffer = result.data;
  ShrinkBilinearExact(part, cv::Size(250, 333), &result);
  EXPECT_EQ(result.data, buffer);
  EXPECT_EQ(DifferentPixels(result, OpenCvBilinear(part.clone(), cv::Size(250, 333))), 0);
}

TEST(ShrinkBilinearExactTest, EnlargingIsOpenCvsOwn) {
  const cv::Mat photo = PhotoGrey();
  for (const cv::Size& size : {cv::Size(700, 600), cv::Size(600, 900)}) {
    EXPECT_EQ(
        DifferentPixels(OurBilinear(photo, size, true), OpenCvBilinear(photo, size)), 0)
        << "photo to " << size;
  }
}

}  // namespace
}  // namespace stache::detector::internal
