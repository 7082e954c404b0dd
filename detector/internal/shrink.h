// Two of OpenCV's shrinks of a greyscale image, pixel for pixel, at a
// fraction of their cost: INTER_AREA (the coarse finder's copy and its
// octaves) and INTER_LINEAR_EXACT (the copy a cascade scans at each window
// size).
//
//   cv::Mat small = ShrinkByArea(grey, cv::Size(421, 494));
//   // == cv::resize(grey, small, cv::Size(421, 494), 0, 0, cv::INTER_AREA)
//
// The coarse face finder's recall depends on the exact pixels of its copies
// (a different but equally fair average lost 4 of 64 test faces, plain
// bilinear 1), so these do OpenCV's arithmetic: the same weights, sums in
// the same order, the same rounding. What differs is how: OpenCV's area
// shrink goes one (source, destination, weight) entry at a time at ratios
// that are not whole numbers, and its bit-exact one works out its weights
// in software floating point on every call; here eight destination pixels
// take a few vector instructions (AVX2 where the CPU has it), the weights
// are worked out in hardware doubles (which round as its software does),
// and a source row that two destination rows share is summed once.
// shrink_test holds both to cv::resize on many sizes.
#ifndef STACHE_DETECTOR_INTERNAL_SHRINK_H_
#define STACHE_DETECTOR_INTERNAL_SHRINK_H_

#include <opencv2/core.hpp>

namespace stache::detector::internal {

// As cv::resize(grey, result, size, 0, 0, cv::INTER_AREA). `grey` is
// CV_8UC1; where `size` is not smaller in both directions, or the ratio is
// a whole number (OpenCV's own fast path), this calls cv::resize.
// `use_avx2`: false tries the path of CPUs without AVX2 (for tests).
cv::Mat ShrinkByArea(const cv::Mat& grey, cv::Size size, bool use_avx2 = true);

// As cv::resize(grey, result, size, 0, 0, cv::INTER_LINEAR_EXACT), into
// `result` (its buffer is reused when the size fits). `grey` is CV_8UC1;
// where `size` is larger in either direction, the same, half in both
// (OpenCV then averages), or smaller than a quarter, this calls cv::resize.
void ShrinkBilinearExact(const cv::Mat& grey, cv::Size size, cv::Mat* result,
                         bool use_avx2 = true);

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_SHRINK_H_
