#include "detector/internal/area_shrink.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define STACHE_AREA_SHRINK_AVX2 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace stache::detector::internal {
namespace {

// Which source pixels make up each destination pixel along one axis, and
// with what weights: OpenCV's computeResizeAreaTab, entry for entry, but
// grouped by destination pixel. Every destination pixel gets `taps`
// weights for the source pixels first[d], first[d] + 1, ...; the ones past
// its own run are zero, which adds +0.0f to a sum and so changes nothing.
struct AxisTaps {
  int taps = 0;
  std::vector<int> first;
  // weights[t * destination + d]: tap t of destination pixel d.
  std::vector<float> weights;
};

AxisTaps AreaTaps(int source, int destination) {
  // OpenCV derives the scale from the inverse ratio it was given.
  const double scale = 1. / (static_cast<double>(destination) / source);
  // Each destination pixel's weights, one after another, and where each
  // pixel's run starts in that list.
  std::vector<float> runs;
  std::vector<int> starts(destination + 1);
  AxisTaps axis;
  axis.first.resize(destination);
  for (int d = 0; d < destination; ++d) {
    starts[d] = static_cast<int>(runs.size());
    const double start = d * scale;
    const double end = start + scale;
    const double cell = std::min(scale, source - start);
    int s1 = static_cast<int>(std::ceil(start));
    int s2 = static_cast<int>(std::floor(end));
    s2 = std::min(s2, source - 1);
    s1 = std::min(s1, s2);
    axis.first[d] = s1;
    if (s1 - start > 1e-3) {
      axis.first[d] = s1 - 1;
      runs.push_back(static_cast<float>((s1 - start) / cell));
    }
    for (int s = s1; s < s2; ++s) runs.push_back(static_cast<float>(1.0 / cell));
    if (end - s2 > 1e-3) {
      runs.push_back(static_cast<float>(std::min(std::min(end - s2, 1.), cell) / cell));
    }
    axis.taps = std::max(axis.taps, static_cast<int>(runs.size()) - starts[d]);
  }
  starts[destination] = static_cast<int>(runs.size());
  axis.weights.assign(static_cast<size_t>(destination) * axis.taps, 0.f);
  for (int d = 0; d < destination; ++d) {
    for (int t = 0; t < starts[d + 1] - starts[d]; ++t) {
      axis.weights[static_cast<size_t>(t) * destination + d] = runs[starts[d] + t];
    }
  }
  return axis;
}

// out[d] = sum over t of row[first[d] + t] * weight(d, t), added in that
// order from 0, as OpenCV adds them (a multiply, then an add: never fused,
// which would round differently).
void HorizontalSumsPortable(const float* row, const AxisTaps& axis, float* out) {
  const int destination = static_cast<int>(axis.first.size());
  for (int d = 0; d < destination; ++d) {
    const float* s = row + axis.first[d];
    float sum = 0.f;
    for (int t = 0; t < axis.taps; ++t) {
      sum += s[t] * axis.weights[static_cast<size_t>(t) * destination + d];
    }
    out[d] = sum;
  }
}

#ifdef STACHE_AREA_SHRINK_AVX2
// Eight destination pixels at a time, each tap one gather. AVX2 without
// FMA, so the products are rounded before they are added, as above.
__attribute__((target("avx2"))) void HorizontalSumsAvx2(const float* row,
                                                        const AxisTaps& axis,
                                                        float* out) {
  const int destination = static_cast<int>(axis.first.size());
  int d = 0;
  for (; d + 8 <= destination; d += 8) {
    const __m256i first =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(axis.first.data() + d));
    __m256 sum = _mm256_setzero_ps();
    for (int t = 0; t < axis.taps; ++t) {
      const __m256 pixels =
          _mm256_i32gather_ps(row, _mm256_add_epi32(first, _mm256_set1_epi32(t)), 4);
      const __m256 weights =
          _mm256_loadu_ps(axis.weights.data() + static_cast<size_t>(t) * destination + d);
      sum = _mm256_add_ps(sum, _mm256_mul_ps(pixels, weights));
    }
    _mm256_storeu_ps(out + d, sum);
  }
  for (; d < destination; ++d) {
    const float* s = row + axis.first[d];
    float sum = 0.f;
    for (int t = 0; t < axis.taps; ++t) {
      sum += s[t] * axis.weights[static_cast<size_t>(t) * destination + d];
    }
    out[d] = sum;
  }
}
#endif

// OpenCV's saturate_cast<uchar>(float): rounded to nearest, ties to even.
inline uint8_t ToPixel(float value) {
  return static_cast<uint8_t>(std::clamp(std::nearbyint(value), 0.f, 255.f));
}

// The shrink of `grey` into `result`, for both instruction sets: the plain
// loops are vectorised by the compiler for whichever the caller targets,
// the horizontal sums are the given function's.
template <void (*kHorizontalSums)(const float*, const AxisTaps&, float*)>
[[gnu::always_inline]] inline void ShrinkRows(const cv::Mat& grey, const AxisTaps& across,
                                              const AxisTaps& down, cv::Mat& result) {
  const int width = result.cols;
  const int height = result.rows;
  // A source row as floats, with room for the zero-weighted taps past its
  // end; the horizontal sums of the last row read; the running sums of the
  // destination row being made.
  std::vector<float> row(grey.cols + across.taps, 0.f);
  std::vector<float> sums_of_row(width);
  std::vector<float> column_sums(width);
  float* __restrict row_data = row.data();
  float* __restrict sums_data = sums_of_row.data();
  float* __restrict column_data = column_sums.data();
  int row_read = -1;
  for (int d = 0; d < height; ++d) {
    for (int t = 0; t < down.taps; ++t) {
      const float beta = down.weights[static_cast<size_t>(t) * height + d];
      if (beta == 0) break;  // only padding follows
      const int s = down.first[d] + t;
      if (s != row_read) {
        const uint8_t* __restrict pixels = grey.ptr<uint8_t>(s);
        for (int x = 0; x < grey.cols; ++x) row_data[x] = pixels[x];
        kHorizontalSums(row_data, across, sums_data);
        row_read = s;
      }
      if (t == 0) {
        for (int x = 0; x < width; ++x) column_data[x] = beta * sums_data[x];
      } else {
        for (int x = 0; x < width; ++x) column_data[x] += beta * sums_data[x];
      }
    }
    uint8_t* __restrict out = result.ptr<uint8_t>(d);
    for (int x = 0; x < width; ++x) out[x] = ToPixel(column_data[x]);
  }
}

#ifdef STACHE_AREA_SHRINK_AVX2
__attribute__((target("avx2"))) void ShrinkRowsAvx2(const cv::Mat& grey,
                                                    const AxisTaps& across,
                                                    const AxisTaps& down,
                                                    cv::Mat& result) {
  ShrinkRows<HorizontalSumsAvx2>(grey, across, down, result);
}
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#endif

void ShrinkRowsPortable(const cv::Mat& grey, const AxisTaps& across, const AxisTaps& down,
                        cv::Mat& result) {
  ShrinkRows<HorizontalSumsPortable>(grey, across, down, result);
}

// As OpenCV decides that a ratio takes its whole-number path.
bool IsWhole(double ratio) {
  return std::abs(ratio - static_cast<double>(std::lround(ratio))) <
         std::numeric_limits<double>::epsilon();
}

}  // namespace

cv::Mat ShrinkByArea(const cv::Mat& grey, cv::Size size, bool use_avx2) {
  CV_Assert(grey.type() == CV_8UC1);
  const double ratio_x = 1. / (static_cast<double>(size.width) / grey.cols);
  const double ratio_y = 1. / (static_cast<double>(size.height) / grey.rows);
  if (ratio_x < 1 || ratio_y < 1 || (IsWhole(ratio_x) && IsWhole(ratio_y)) ||
      size.width <= 0 || size.height <= 0) {
    cv::Mat result;
    cv::resize(grey, result, size, 0, 0, cv::INTER_AREA);
    return result;
  }
  const AxisTaps across = AreaTaps(grey.cols, size.width);
  const AxisTaps down = AreaTaps(grey.rows, size.height);
  cv::Mat result(size, CV_8UC1);
#ifdef STACHE_AREA_SHRINK_AVX2
  if (use_avx2 && kHasAvx2) {
    ShrinkRowsAvx2(grey, across, down, result);
    return result;
  }
#else
  (void)use_avx2;
#endif
  ShrinkRowsPortable(grey, across, down, result);
  return result;
}

}  // namespace stache::detector::internal
