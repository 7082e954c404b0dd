#include "detector/internal/shrink.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "detector/internal/avx2.h"

namespace stache::detector::internal {
namespace {

// cv::resize's scale from `source` to `destination` pixels: the inverse of
// the ratio it derives from the sizes, which can round differently from
// source / destination.
double OpenCvScale(int source, int destination) {
  return 1. / (static_cast<double>(destination) / source);
}

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
  const double scale = OpenCvScale(source, destination);
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
// which would round differently), for destination pixels from `from` on.
void HorizontalSumsPortable(const float* row, const AxisTaps& axis, int from,
                            float* out) {
  const int destination = static_cast<int>(axis.first.size());
  for (int d = from; d < destination; ++d) {
    const float* s = row + axis.first[d];
    float sum = 0.f;
    for (int t = 0; t < axis.taps; ++t) {
      sum += s[t] * axis.weights[static_cast<size_t>(t) * destination + d];
    }
    out[d] = sum;
  }
}

#ifdef STACHE_AVX2
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
  HorizontalSumsPortable(row, axis, d, out);
}
#endif

// OpenCV's saturate_cast<uchar>(float): rounded to nearest, ties to even.
inline uint8_t ToPixel(float value) {
  return static_cast<uint8_t>(std::clamp(std::nearbyint(value), 0.f, 255.f));
}

// The shrink of `grey` into `result`, for both instruction sets: the plain
// loops are vectorised by the compiler for whichever the caller targets;
// `horizontal` fills a row of horizontal sums.
template <typename Horizontal>
[[gnu::always_inline]] inline void ShrinkRows(const cv::Mat& grey, const AxisTaps& across,
                                              const AxisTaps& down, Horizontal horizontal,
                                              cv::Mat& result) {
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
        horizontal(row_data, sums_data);
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

#ifdef STACHE_AVX2
__attribute__((target("avx2"))) void ShrinkRowsAvx2(const cv::Mat& grey,
                                                    const AxisTaps& across,
                                                    const AxisTaps& down,
                                                    cv::Mat& result) {
  ShrinkRows(
      grey, across, down,
      [&](const float* row, float* sums) { HorizontalSumsAvx2(row, across, sums); },
      result);
}
#endif

void ShrinkRowsPortable(const cv::Mat& grey, const AxisTaps& across, const AxisTaps& down,
                        cv::Mat& result) {
  ShrinkRows(
      grey, across, down,
      [&](const float* row, float* sums) {
        HorizontalSumsPortable(row, across, 0, sums);
      },
      result);
}

// As OpenCV decides that a ratio takes its whole-number path.
bool IsWhole(double ratio) {
  return std::abs(ratio - static_cast<double>(std::lround(ratio))) <
         std::numeric_limits<double>::epsilon();
}

// INTER_LINEAR_EXACT along one axis: destination pixel d is source pixels
// offset[d] and offset[d] + 1, weighted 256 - weight[d] and weight[d]
// (eight fraction bits). Empty when a destination pixel falls on the edge,
// which a shrink never does (cv::resize is called then).
struct LinearTaps {
  std::vector<int32_t> offset;
  std::vector<int32_t> weight;
};

LinearTaps BilinearTaps(int source, int destination) {
  // OpenCV works these out in software floating point, which rounds as
  // hardware doubles do (each operation on its own: nothing here is fused).
  const double scale = OpenCvScale(source, destination);
  LinearTaps taps;
  taps.offset.reserve(destination);
  taps.weight.reserve(destination);
  for (int d = 0; d < destination; ++d) {
    const double position = scale * (d + 0.5) - 0.5;
    const double below = std::floor(position);
    if (below < 0 || below >= source - 1) return {};
    taps.offset.push_back(static_cast<int32_t>(below));
    // Rounded to nearest, ties to even, as OpenCV's cvRound of a softdouble.
    taps.weight.push_back(static_cast<int32_t>(std::nearbyint((position - below) * 256)));
  }
  return taps;
}

// A row's horizontal sums: p[o] * (256 - w) + p[o + 1] * w, exact in ints.
void HorizontalBilinearPortable(const uint8_t* row, const LinearTaps& across, int from,
                                int32_t* sums) {
  for (int d = from; d < static_cast<int>(across.offset.size()); ++d) {
    const int32_t o = across.offset[d];
    const int32_t w = across.weight[d];
    sums[d] = row[o] * (256 - w) + row[o + 1] * w;
  }
}

#ifdef STACHE_AVX2
// The same for eight destination pixels per step, as two blocks of four:
// each block's source pixels lie within 16 bytes of its first offset, so
// one byte shuffle lays out the (p[o], p[o + 1]) pairs as 16-bit ints and
// one multiply-add weighs them.
struct BilinearBlocks {
  int blocks = 0;                                // of eight destination pixels
  std::vector<int32_t> base;                     // two per block: where each half reads
  std::vector<std::array<int8_t, 32>> shuffles;  // one per block
  std::vector<std::array<int16_t, 16>> weights;  // one per block: (256 - w, w)
};

BilinearBlocks MakeBilinearBlocks(const LinearTaps& across) {
  BilinearBlocks blocks;
  const int destination = static_cast<int>(across.offset.size());
  for (int d0 = 0; d0 + 8 <= destination; d0 += 8) {
    std::array<int8_t, 32> shuffle;
    std::array<int16_t, 16> weight;
    int32_t bases[2];
    for (int half = 0; half < 2; ++half) {
      const int first = d0 + half * 4;
      bases[half] = across.offset[first];
      for (int k = 0; k < 4; ++k) {
        const int relative = across.offset[first + k] - bases[half];
        if (relative + 1 > 15) return blocks;  // too spread out: no blocks
        int8_t* lane = shuffle.data() + half * 16 + k * 4;
        lane[0] = static_cast<int8_t>(relative);
        lane[1] = static_cast<int8_t>(0x80);  // zero: the high byte
        lane[2] = static_cast<int8_t>(relative + 1);
        lane[3] = static_cast<int8_t>(0x80);
        weight[half * 8 + k * 2] = static_cast<int16_t>(256 - across.weight[first + k]);
        weight[half * 8 + k * 2 + 1] = static_cast<int16_t>(across.weight[first + k]);
      }
    }
    blocks.base.insert(blocks.base.end(), bases, bases + 2);
    blocks.shuffles.push_back(shuffle);
    blocks.weights.push_back(weight);
  }
  blocks.blocks = static_cast<int>(blocks.shuffles.size());
  return blocks;
}

// `row` has at least 16 readable bytes past every offset.
__attribute__((target("avx2"))) void HorizontalBilinearAvx2(const uint8_t* row,
                                                            const LinearTaps& across,
                                                            const BilinearBlocks& blocks,
                                                            int32_t* sums) {
  for (int b = 0; b < blocks.blocks; ++b) {
    const __m128i low =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + blocks.base[2 * b]));
    const __m128i high =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + blocks.base[2 * b + 1]));
    const __m256i pixels = _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
    const __m256i shuffle =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks.shuffles[b].data()));
    const __m256i weights =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks.weights[b].data()));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + 8 * b),
                        _mm256_madd_epi16(_mm256_shuffle_epi8(pixels, shuffle), weights));
  }
  HorizontalBilinearPortable(row, across, 8 * blocks.blocks, sums);
}
#endif

// Both passes for one instruction set; `horizontal` fills a row of sums.
template <typename Horizontal>
[[gnu::always_inline]] inline void ShrinkBilinearRows(const cv::Mat& grey,
                                                      const LinearTaps& down,
                                                      Horizontal horizontal,
                                                      cv::Mat& result) {
  const int width = result.cols;
  // A copy of the source row with room for 16-byte reads past any offset.
  std::vector<uint8_t> row(grey.cols + 16, 0);
  // The horizontal sums of two source rows, and which rows they are.
  std::vector<int32_t> sums(2 * width);
  int held[2] = {-1, -1};
  for (int d = 0; d < result.rows; ++d) {
    const int32_t* lines[2];
    for (int k = 0; k < 2; ++k) {
      const int s = down.offset[d] + k;
      int slot = held[0] == s ? 0 : held[1] == s ? 1 : -1;
      if (slot < 0) {
        // Not the slot that holds the other row this destination row needs.
        slot = held[0] == down.offset[d] + 1 - k ? 1 : 0;
        std::memcpy(row.data(), grey.ptr<uint8_t>(s), grey.cols);
        horizontal(row.data(), sums.data() + slot * width);
        held[slot] = s;
      }
      lines[k] = sums.data() + slot * width;
    }
    const int32_t w1 = down.weight[d];
    const int32_t w0 = 256 - w1;
    const int32_t* __restrict top = lines[0];
    const int32_t* __restrict bottom = lines[1];
    uint8_t* __restrict out = result.ptr<uint8_t>(d);
    // OpenCV's fixed point: 16 fraction bits, rounded half up.
    for (int x = 0; x < width; ++x) {
      out[x] = static_cast<uint8_t>((top[x] * w0 + bottom[x] * w1 + (1 << 15)) >> 16);
    }
  }
}

#ifdef STACHE_AVX2
__attribute__((target("avx2"))) void ShrinkBilinearRowsAvx2(const cv::Mat& grey,
                                                            const LinearTaps& across,
                                                            const BilinearBlocks& blocks,
                                                            const LinearTaps& down,
                                                            cv::Mat& result) {
  ShrinkBilinearRows(
      grey, down,
      [&](const uint8_t* row, int32_t* sums) {
        HorizontalBilinearAvx2(row, across, blocks, sums);
      },
      result);
}
#endif

void ShrinkBilinearRowsPortable(const cv::Mat& grey, const LinearTaps& across,
                                const LinearTaps& down, cv::Mat& result) {
  ShrinkBilinearRows(
      grey, down,
      [&](const uint8_t* row, int32_t* sums) {
        HorizontalBilinearPortable(row, across, 0, sums);
      },
      result);
}

}  // namespace

cv::Mat ShrinkByArea(const cv::Mat& grey, cv::Size size, bool use_avx2) {
  CV_Assert(grey.type() == CV_8UC1);
  const double ratio_x = OpenCvScale(grey.cols, size.width);
  const double ratio_y = OpenCvScale(grey.rows, size.height);
  if (ratio_x < 1 || ratio_y < 1 || (IsWhole(ratio_x) && IsWhole(ratio_y)) ||
      size.width <= 0 || size.height <= 0) {
    cv::Mat result;
    cv::resize(grey, result, size, 0, 0, cv::INTER_AREA);
    return result;
  }
  const AxisTaps across = AreaTaps(grey.cols, size.width);
  const AxisTaps down = AreaTaps(grey.rows, size.height);
  cv::Mat result(size, CV_8UC1);
#ifdef STACHE_AVX2
  if (use_avx2 && CpuHasAvx2()) {
    ShrinkRowsAvx2(grey, across, down, result);
    return result;
  }
#else
  (void)use_avx2;
#endif
  ShrinkRowsPortable(grey, across, down, result);
  return result;
}

void ShrinkBilinearExact(const cv::Mat& grey, cv::Size size, cv::Mat* result,
                         bool use_avx2) {
  CV_Assert(grey.type() == CV_8UC1);
  const double ratio_x = OpenCvScale(grey.cols, size.width);
  const double ratio_y = OpenCvScale(grey.rows, size.height);
  const bool halved = IsWhole(ratio_x) && IsWhole(ratio_y) && std::lround(ratio_x) == 2 &&
                      std::lround(ratio_y) == 2;
  LinearTaps across;
  LinearTaps down;
  if (size.width > 0 && size.height > 0 && ratio_x >= 1 && ratio_y >= 1 && ratio_x <= 4 &&
      ratio_y <= 4 && !halved && size != grey.size()) {
    across = BilinearTaps(grey.cols, size.width);
    down = BilinearTaps(grey.rows, size.height);
  }
  if (across.offset.empty() || down.offset.empty()) {
    cv::resize(grey, *result, size, 0, 0, cv::INTER_LINEAR_EXACT);
    return;
  }
  result->create(size, CV_8UC1);
#ifdef STACHE_AVX2
  if (use_avx2 && CpuHasAvx2()) {
    ShrinkBilinearRowsAvx2(grey, across, MakeBilinearBlocks(across), down, *result);
    return;
  }
#else
  (void)use_avx2;
#endif
  ShrinkBilinearRowsPortable(grey, across, down, *result);
}

}  // namespace stache::detector::internal
