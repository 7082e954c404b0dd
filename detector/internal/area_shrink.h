// OpenCV's INTER_AREA shrink of a greyscale image, pixel for pixel, at a
// fraction of its cost when the ratio is not a whole number.
//
//   cv::Mat small = ShrinkByArea(grey, cv::Size(421, 494));
//   // == cv::resize(grey, small, cv::Size(421, 494), 0, 0, cv::INTER_AREA)
//
// The coarse face finder's recall depends on the exact pixels of its copies
// (a different but equally fair average lost 4 of 64 test faces), so this
// does OpenCV's arithmetic: the same weights, the same float sums in the
// same order, the same rounding. What differs is only the layout: OpenCV
// walks a list of (source, destination, weight) entries one at a time; here
// each destination pixel's run of source pixels is read in one go, and the
// horizontal sums of a source row that two destination rows share are
// computed once. area_shrink_test holds it to cv::resize on many sizes.
#ifndef STACHE_DETECTOR_INTERNAL_AREA_SHRINK_H_
#define STACHE_DETECTOR_INTERNAL_AREA_SHRINK_H_

#include <opencv2/core.hpp>

namespace stache::detector::internal {

// As cv::resize(grey, result, size, 0, 0, cv::INTER_AREA). `grey` is
// CV_8UC1; where `size` is not smaller in both directions, or the ratio is
// a whole number (OpenCV's own fast path), this calls cv::resize.
// `use_avx2`: false tries the path of CPUs without AVX2 (for tests).
cv::Mat ShrinkByArea(const cv::Mat& grey, cv::Size size, bool use_avx2 = true);

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_AREA_SHRINK_H_
