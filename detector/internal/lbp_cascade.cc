#include "detector/internal/lbp_cascade.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "detector/internal/avx2.h"
#include "detector/internal/shrink.h"

// The helpers of the stage loop pass vectors by value, whose ABI depends
// on the target; they are all inlined into EvaluatePortable and
// EvaluateAvx2, so no call crosses it. (GCC reports it at the end of the
// file, hence file-wide.)
#pragma GCC diagnostic ignored "-Wpsabi"

namespace stache::detector::internal {
namespace {

// Windows evaluated together; the lane loops below are written so that the
// compiler turns each into vector instructions.
constexpr int kLanes = 16;
// Which of kLanes windows pass: bit l for window l.
using Mask = uint16_t;

// OpenCV lowers every stage threshold by this much as it reads a cascade.
constexpr float kThresholdEpsilon = 1e-5f;

// An LBP feature reads a 4x4 grid of integral-image corners: the 3x3 blocks
// of `block`'s size from its top-left corner.
constexpr int kCorners = 16;

// The integral image is kept modulo 2^16: a block's sum, the difference of
// four corners, comes out exact as long as it is below 2^16, as it is for
// a block of at most this many pixels. Sixteen windows then fit one vector.
constexpr int kMaxBlockPixels = 65535 / 255;

// Columns are split into `step` planes (x, x + step, ... in one plane), so
// that the windows of one row, step pixels apart, read consecutive values.
struct Planes {
  uint16_t* data = nullptr;
  int rows = 0;
  int cols = 0;  // per plane row, with kLanes of padding
  int step = 1;

  // The offset of integral-image point (dx, dy) from window (0, 0).
  int Offset(int dx, int dy) const {
    return ((dx % step) * rows + dy) * cols + dx / step;
  }
};

// Values left uninitialised (every one used is written first), grown as
// needed.
class Buffer {
 public:
  uint16_t* Get(size_t size) {
    if (size > size_) {
      data_ = std::make_unique_for_overwrite<uint16_t[]>(size);
      size_ = size;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<uint16_t[]> data_;
  size_t size_ = 0;
};

// `sum`'s columns, modulo 2^16, into planes held in `buffer` (reused from
// scale to scale). `step` is 1 or 2, as OpenCV steps.
Planes SplitColumns(const cv::Mat& sum, int step, Buffer* buffer) {
  Planes planes{
      .rows = sum.rows, .cols = (sum.cols + step - 1) / step + kLanes, .step = step};
  planes.data = buffer->Get(static_cast<size_t>(step) * planes.rows * planes.cols);
  const size_t plane_size = static_cast<size_t>(planes.rows) * planes.cols;
  for (int r = 0; r < sum.rows; ++r) {
    const int32_t* in = sum.ptr<int32_t>(r);
    uint16_t* out = planes.data + static_cast<size_t>(r) * planes.cols;
    // Both planes in one pass over the row, which the compiler vectorises.
    uint16_t* odd = out + plane_size;
    const int pairs = step == 1 ? 0 : sum.cols / 2;
    for (int j = 0; j < pairs; ++j) {
      out[j] = static_cast<uint16_t>(in[2 * j]);
      odd[j] = static_cast<uint16_t>(in[2 * j + 1]);
    }
    int end = pairs;
    for (int x = step * pairs; x < sum.cols; x += step) {
      out[end++] = static_cast<uint16_t>(in[x]);
    }
    std::fill(out + end, out + planes.cols, 0);
    if (step == 2) std::fill(odd + pairs, odd + planes.cols, 0);
  }
  return planes;
}

// Values in GCC's (and Clang's) vector extension: arithmetic and
// comparisons on them are single vector instructions. The integral image's
// values wrap (unsigned) and its blocks are compared as unsigned; lookups
// take bytes; the sums of long stages take a quarter of the windows at a
// time.
using Wrapping = uint16_t __attribute__((vector_size(kLanes * sizeof(uint16_t))));
using Bytes = uint8_t __attribute__((vector_size(kLanes * sizeof(uint16_t))));
using Doubles = double __attribute__((vector_size(kLanes / 4 * sizeof(double))));

// A set of 256 bits (a stump's categories, or the leaf patterns that pass
// a stage), as two 16-byte halves each repeated, as AVX2's byte shuffle,
// which looks up 16 bytes within each half of a vector, wants them.
struct Bits256 {
  Bytes low;   // bytes 0-15, twice
  Bytes high;  // bytes 16-31, twice

  static Bits256 FromWords(const std::array<uint32_t, 8>& words) {
    Bits256 bits;
    for (int b = 0; b < 32; ++b) {
      const auto byte = static_cast<uint8_t>(words[b / 4] >> (8 * (b % 4)));
      Bytes& half = b < 16 ? bits.low : bits.high;
      half[b % 16] = byte;
      half[16 + b % 16] = byte;
    }
    return bits;
  }
};

// The instructions that differ between the two builds of the stage loop.
// Each has `Lookup(bits, index)`: bit `index` (0-255) of `bits` in the low
// byte of each lane (0 or that bit's power of two), 0 in the high byte; and
// `ToMask(lanes)`: bit l set where lane l is not 0.
struct Portable {
  static Wrapping Lookup(const Bits256& bits, const Wrapping& index) {
    const Bytes all = __builtin_shufflevector(
        bits.low, bits.high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 32, 33,
        34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47);
    Wrapping found;
    for (int l = 0; l < kLanes; ++l) {
      found[l] = all[index[l] >> 3] & (1 << (index[l] & 7));
    }
    return found;
  }

  static Mask ToMask(const Wrapping& lanes) {
    unsigned bits = 0;
    for (int l = 0; l < kLanes; ++l) bits |= static_cast<unsigned>(lanes[l] != 0) << l;
    return static_cast<Mask>(bits);
  }
};

#ifdef STACHE_AVX2
struct Avx2 {
  // Without assuming alignment: a vector type is only as aligned as the
  // default target makes it (16 bytes), and an aligned load of one that was
  // not crashed an earlier version.
  __attribute__((target("avx2"))) static __m256i Load(const Bytes& bytes) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&bytes));
  }

  // Two byte shuffles pick the byte (index / 8) from either half, a third
  // the bit (index % 8).
  __attribute__((target("avx2"))) static Wrapping Lookup(const Bits256& bits,
                                                         const Wrapping& index) {
    const __m256i byte_index = __m256i(index >> 3);
    // A shuffle gives 0 where the index's top bit is set: adding 0x70 with
    // saturation sets it for bytes 16-31 (and keeps bits 0-3), so each half
    // answers for its own bytes only.
    const __m256i top = _mm256_set1_epi8(0x70);
    const __m256i byte = _mm256_or_si256(
        _mm256_shuffle_epi8(Load(bits.low), _mm256_adds_epu8(byte_index, top)),
        _mm256_shuffle_epi8(
            Load(bits.high),
            _mm256_adds_epu8(_mm256_xor_si256(byte_index, _mm256_set1_epi8(0x10)), top)));
    // Index bytes 8-15 pick 0, as the high byte of each lane does here.
    const __m256i powers =
        _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8,
                         16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i bit = _mm256_shuffle_epi8(powers, __m256i((index & 7) | 0x800));
    return Wrapping(_mm256_and_si256(byte, bit));
  }

  __attribute__((target("avx2"))) static Mask ToMask(const Wrapping& lanes) {
    // All ones where a lane is 0, packed to a byte per lane (the first
    // eight lanes in bytes 0-7, the others in bytes 16-23).
    const __m256i zero = _mm256_cmpeq_epi16(__m256i(lanes), _mm256_setzero_si256());
    const auto bits = static_cast<unsigned>(
        _mm256_movemask_epi8(_mm256_packs_epi16(zero, _mm256_setzero_si256())));
    return static_cast<Mask>(~((bits & 0xff) | ((bits >> 8) & 0xff00)));
  }
};
#endif

struct StumpAt {
  std::array<int, kCorners> corners;
  Bits256 categories;  // Stump::categories
  float left;
  float right;
};

// For kLanes windows in a row, the first at `at`: not 0 in the lanes whose
// LBP code takes `stump`'s left leaf, 0 in the others.
template <class Isa>
Wrapping TakesLeft(const StumpAt& stump, const uint16_t* at) {
  // The 3x3 blocks, row by row, from the grid's rows of corners: the
  // differences along a row, then between rows (fewer values live at once
  // than all 16 corners).
  Wrapping block[9];
  Wrapping above[3] = {};
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    Wrapping corner[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      std::memcpy(&corner[c], at + stump.corners[r * 4 + c], sizeof corner[c]);
    }
#pragma GCC unroll 3
    for (int c = 0; c < 3; ++c) {
      const Wrapping across = corner[c] - corner[c + 1];
      if (r > 0) block[(r - 1) * 3 + c] = above[c] - across;
      above[c] = across;
    }
  }
  // Clockwise from the top-left block, most significant bit first. A
  // comparison gives all ones (-1) where it holds, so doubling and
  // subtracting it appends its bit, with no constant to keep in a register.
  const Wrapping centre = block[4];
  Wrapping code = {};
  for (int b : {0, 1, 2, 5, 8, 7, 6, 3}) {
    code = code + code - Wrapping(block[b] >= centre);
  }
  return Isa::Lookup(stump.categories, code);
}

// Whether each of kLanes windows, the first at `at`, reaches the threshold
// of the stage made of `stumps[0..count)`: bit l of the result for window l.
// The leaves are summed in double, as OpenCV does.
template <class Isa>
Mask EvaluateStage(const StumpAt* stumps, int count, float threshold,
                   const uint16_t* at) {
  Doubles sums[4] = {};
  for (int s = 0; s < count; ++s) {
    const Wrapping left = TakesLeft<Isa>(stumps[s], at);
    for (int l = 0; l < kLanes; ++l) {
      sums[l / 4][l % 4] += left[l] != 0 ? stumps[s].left : stumps[s].right;
    }
  }
  Wrapping pass = {};
  for (int l = 0; l < kLanes; ++l) pass[l] = !(sums[l / 4][l % 4] < threshold);
  return Isa::ToMask(pass);
}

// As EvaluateStage for a stage of at most LbpCascade::kPatternStumps stumps,
// whose sum depends only on which leaf each stump takes: bit s of a window's
// pattern says stump s took its left leaf, and bit `pattern` of `passes`
// whether that sum reaches the threshold (worked out once, by OpenCV's
// arithmetic, in FromXml).
template <class Isa>
Mask EvaluateStageByPattern(const StumpAt* stumps, int count, const Bits256& passes,
                            const uint16_t* at) {
  Wrapping pattern = {};
  for (int s = 0; s < count; ++s) {
    pattern |= (TakesLeft<Isa>(stumps[s], at) != 0) & static_cast<uint16_t>(1 << s);
  }
  return Isa::ToMask(Isa::Lookup(passes, pattern));
}

// A stage, ready for the stage loop.
struct StageAt {
  int first;  // its first stump
  int count;
  float threshold;
  bool by_pattern;  // decided by `passes`, not by summing
  Bits256 passes;
};

// A stage's verdict on kLanes windows, the first at `at`.
template <class Isa>
Mask Evaluate(const StumpAt* stumps, const StageAt& stage, const uint16_t* at) {
  if (stage.by_pattern) {
    return EvaluateStageByPattern<Isa>(stumps + stage.first, stage.count, stage.passes,
                                       at);
  }
  return EvaluateStage<Isa>(stumps + stage.first, stage.count, stage.threshold, at);
}

// Evaluate for each instruction set, with everything it calls inlined.
using StageFunction = Mask (*)(const StumpAt* stumps, const StageAt& stage,
                               const uint16_t* at);
[[gnu::flatten]] Mask EvaluatePortable(const StumpAt* stumps, const StageAt& stage,
                                       const uint16_t* at) {
  return Evaluate<Portable>(stumps, stage, at);
}
#ifdef STACHE_AVX2
[[gnu::flatten]] __attribute__((target("avx2"))) Mask EvaluateAvx2(const StumpAt* stumps,
                                                                   const StageAt& stage,
                                                                   const uint16_t* at) {
  return Evaluate<Avx2>(stumps, stage, at);
}
#endif

// OpenCV's walk along a row of windows, eight at a time: from one the first
// stage passes it goes to the next, from one it rejects to the one after.
// For whether the first of eight windows is looked at, and which of them
// the first stage passes (bit l for window l): the windows looked at and
// passed, and whether the first window of the next eight is looked at.
struct SkipStep {
  uint8_t candidates;
  uint8_t next_looked_at;
};
constexpr int kSkipWindows = 8;
static_assert(kLanes % kSkipWindows == 0, "kSkips walks whole bytes of a Mask");
constexpr std::array<std::array<SkipStep, 256>, 2> kSkips = [] {
  std::array<std::array<SkipStep, 256>, 2> table{};
  for (unsigned looked_at_first = 0; looked_at_first < 2; ++looked_at_first) {
    for (unsigned passed = 0; passed < 256; ++passed) {
      unsigned looked_at = looked_at_first;
      unsigned candidates = 0;
      for (int l = 0; l < kSkipWindows; ++l) {
        const unsigned pass = (passed >> l) & 1;
        candidates |= (looked_at & pass) << l;
        // The next window is looked at unless this one was and was rejected.
        looked_at = pass | (looked_at ^ 1);
      }
      table[looked_at_first][passed] = {static_cast<uint8_t>(candidates),
                                        static_cast<uint8_t>(looked_at)};
    }
  }
  return table;
}();

// Where the horizontal line at `y` crosses the convex polygon `region`:
// its leftmost and rightmost x, or nothing when it misses it.
std::optional<std::pair<float, float>> Across(const std::vector<cv::Point2f>& region,
                                              float y) {
  float left = std::numeric_limits<float>::max();
  float right = std::numeric_limits<float>::lowest();
  for (size_t i = 0; i < region.size(); ++i) {
    const cv::Point2f& p = region[i];
    const cv::Point2f& q = region[(i + 1) % region.size()];
    if (y < std::min(p.y, q.y) || y > std::max(p.y, q.y)) continue;
    const float x = p.y == q.y ? p.x : p.x + (y - p.y) * (q.x - p.x) / (q.y - p.y);
    const float x2 = p.y == q.y ? q.x : x;
    left = std::min({left, x, x2});
    right = std::max({right, x, x2});
  }
  if (left > right) return std::nullopt;
  return std::make_pair(left, right);
}

}  // namespace

struct LbpCascade::Scratch {
  bool use_avx2;
  std::vector<StumpAt> stumps;
  std::vector<StageAt> stages;
  cv::Mat scaled;
  cv::Mat sum;
  Buffer planes;
  // One bit per window, kLanes windows per Mask.
  std::vector<Mask> passed_first;
  std::vector<Mask> candidate;
};

absl::StatusOr<LbpCascade> LbpCascade::FromXml(const std::string& xml) {
  auto invalid = [](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cascade is not an LBP stump cascade: ", why));
  };
  LbpCascade cascade;
  try {
    cv::FileStorage storage(xml, cv::FileStorage::READ | cv::FileStorage::MEMORY);
    if (!storage.isOpened()) return invalid("it does not parse");
    const cv::FileNode root = storage.getFirstTopLevelNode();
    if (static_cast<std::string>(root["stageType"]) != "BOOST") {
      return invalid("its stages are not boosted");
    }
    if (static_cast<std::string>(root["featureType"]) != "LBP") {
      return invalid("its features are not LBP");
    }
    if (static_cast<int>(root["featureParams"]["maxCatCount"]) != 256) {
      return invalid("its features do not have 256 categories");
    }
    cascade.window_ =
        cv::Size(static_cast<int>(root["width"]), static_cast<int>(root["height"]));
    if (cascade.window_.width <= 0 || cascade.window_.height <= 0) {
      return invalid("it has no window size");
    }
    std::vector<cv::Rect> blocks;
    for (const cv::FileNode& feature : root["features"]) {
      std::vector<int> rect;
      feature["rect"] >> rect;
      if (rect.size() != 4) return invalid("a feature is not a rectangle");
      const cv::Rect block(rect[0], rect[1], rect[2], rect[3]);
      if (block.x < 0 || block.y < 0 || block.width <= 0 || block.height <= 0 ||
          block.x + 3 * block.width > cascade.window_.width ||
          block.y + 3 * block.height > cascade.window_.height) {
        return invalid("a feature reaches outside the window");
      }
      if (block.area() > kMaxBlockPixels) {
        return invalid(absl::StrCat("a feature's blocks are larger than ",
                                    kMaxBlockPixels, " pixels"));
      }
      blocks.push_back(block);
    }
    for (const cv::FileNode& stage_node : root["stages"]) {
      Stage stage{.first = static_cast<int>(cascade.stumps_.size()),
                  .threshold = static_cast<float>(stage_node["stageThreshold"]) -
                               kThresholdEpsilon};
      for (const cv::FileNode& weak : stage_node["weakClassifiers"]) {
        std::vector<int> nodes;
        std::vector<float> leaves;
        weak["internalNodes"] >> nodes;
        weak["leafValues"] >> leaves;
        // left, right, feature, then 8 words of categories: one split.
        if (nodes.size() != 11 || leaves.size() != 2) {
          return invalid("a weak classifier is deeper than one split");
        }
        if (nodes[2] < 0 || nodes[2] >= static_cast<int>(blocks.size())) {
          return invalid("a weak classifier names a feature that does not exist");
        }
        Stump stump{.block = blocks[nodes[2]], .left = leaves[0], .right = leaves[1]};
        for (int w = 0; w < 8; ++w)
          stump.categories[w] = static_cast<uint32_t>(nodes[3 + w]);
        cascade.stumps_.push_back(stump);
        ++stage.count;
      }
      if (stage.count == 0) return invalid("a stage has no weak classifiers");
      if (stage.count <= kPatternStumps) {
        for (unsigned pattern = 0; pattern < (1u << stage.count); ++pattern) {
          // As OpenCV sums: in double, stump by stump.
          double sum = 0;
          for (int s = 0; s < stage.count; ++s) {
            const Stump& stump = cascade.stumps_[stage.first + s];
            sum += (pattern >> s) & 1 ? stump.left : stump.right;
          }
          if (!(sum < stage.threshold))
            stage.passes[pattern / 32] |= 1u << (pattern % 32);
        }
      }
      cascade.stages_.push_back(stage);
    }
  } catch (const cv::Exception& e) {
    return invalid(e.what());
  }
  if (cascade.stages_.empty()) return invalid("it has no stages");
  return cascade;
}

void LbpCascade::Scan(const cv::Mat& grey, double scale_step, cv::Size min_size,
                      cv::Size max_size, std::vector<cv::Rect>* hits,
                      const std::vector<cv::Point2f>& region, bool use_avx2) const {
  CV_Assert(grey.type() == CV_8UC1 && scale_step > 1);
  if (max_size.width == 0 || max_size.height == 0) max_size = grey.size();
  Scratch scratch{.use_avx2 = use_avx2};
  // Corners are filled in for each scale.
  for (const Stump& stump : stumps_) {
    scratch.stumps.push_back(StumpAt{.categories = Bits256::FromWords(stump.categories),
                                     .left = stump.left,
                                     .right = stump.right});
  }
  for (const Stage& stage : stages_) {
    scratch.stages.push_back(StageAt{.first = stage.first,
                                     .count = stage.count,
                                     .threshold = stage.threshold,
                                     .by_pattern = stage.count <= kPatternStumps,
                                     .passes = Bits256::FromWords(stage.passes)});
  }
  // The sizes detectMultiScale picks, each scale rounded to float as it
  // keeps them.
  for (double factor = 1;; factor *= scale_step) {
    const cv::Size size(cvRound(window_.width * factor),
                        cvRound(window_.height * factor));
    if (size.width > max_size.width || size.height > max_size.height ||
        size.width > grey.cols || size.height > grey.rows) {
      break;
    }
    if (size.width < min_size.width || size.height < min_size.height) continue;
    ScanScale(grey, static_cast<float>(factor), region, &scratch, hits);
  }
}

void LbpCascade::ScanScale(const cv::Mat& grey, float scale,
                           const std::vector<cv::Point2f>& region, Scratch* scratch,
                           std::vector<cv::Rect>* hits) const {
  const cv::Size size(cvRound(grey.cols / scale), cvRound(grey.rows / scale));
  cv::Mat& scaled = scratch->scaled;
  ShrinkBilinearExact(grey, size, &scaled, scratch->use_avx2);
  cv::Mat& sum = scratch->sum;
  cv::integral(scaled, sum, CV_32S);
  // Window origins: x and y below these, `step` apart.
  const int end_x = sum.cols - window_.width;
  const int end_y = sum.rows - window_.height;
  if (end_x <= 0 || end_y <= 0) return;
  const int step = scale >= 2 ? 1 : 2;
  const Planes planes = SplitColumns(sum, step, &scratch->planes);

  for (size_t i = 0; i < stumps_.size(); ++i) {
    const cv::Rect& block = stumps_[i].block;
    for (int k = 0; k < kCorners; ++k) {
      scratch->stumps[i].corners[k] = planes.Offset(block.x + (k % 4) * block.width,
                                                    block.y + (k / 4) * block.height);
    }
  }
  StageFunction evaluate_stage = EvaluatePortable;
#ifdef STACHE_AVX2
  if (scratch->use_avx2 && CpuHasAvx2()) evaluate_stage = EvaluateAvx2;
#endif
  const StumpAt* const stumps = scratch->stumps.data();
  auto evaluate = [&](size_t stage, const uint16_t* at) {
    return evaluate_stage(stumps, scratch->stages[stage], at);
  };
  const cv::Size found(cvRound(window_.width * scale), cvRound(window_.height * scale));

  const int positions = (end_x + step - 1) / step;
  const int groups = (positions + kLanes - 1) / kLanes;
  scratch->passed_first.resize(groups);
  scratch->candidate.resize(groups);
  // Local pointers: stores through the vectors' own would make the compiler
  // reload their data pointers after each one.
  Mask* const passed_first = scratch->passed_first.data();
  Mask* const candidate = scratch->candidate.data();
  for (int y = 0; y < end_y; y += step) {
    // The windows whose centres lie in the region: positions first..last.
    int first = 0;
    int last = positions - 1;
    if (!region.empty()) {
      const float half_width = window_.width / 2.f;
      const std::optional<std::pair<float, float>> across =
          Across(region, (y + window_.height / 2.f) * scale);
      if (!across.has_value()) continue;
      first = std::max(
          first,
          static_cast<int>(std::ceil((across->first / scale - half_width) / step)));
      last = std::min(
          last,
          static_cast<int>(std::floor((across->second / scale - half_width) / step)));
      if (first > last) continue;
    }
    const int begin = first / kLanes;
    const int end = last / kLanes + 1;
    const uint16_t* row = planes.data + static_cast<size_t>(y) * planes.cols;
    for (int g = begin; g < end; ++g) {
      passed_first[g] = evaluate(0, row + g * kLanes);
    }
    // OpenCV skips the window after one the first stage rejects: a byte of
    // windows at a time through kSkips. Windows before `first` count as
    // passed, so that `first` is looked at; those outside first..last are
    // no candidates.
    unsigned looked_at = 1;
    for (int g = begin; g < end; ++g) {
      unsigned passed = passed_first[g];
      unsigned in_range = (1u << kLanes) - 1;
      if (g == begin) {
        const unsigned before = (1u << (first % kLanes)) - 1;
        passed |= before;
        in_range &= ~before;
      }
      if (g == end - 1) in_range &= (2u << (last % kLanes)) - 1;
      unsigned candidates = 0;
      for (int b = 0; b < kLanes; b += kSkipWindows) {
        const SkipStep& step = kSkips[looked_at][(passed >> b) & 0xff];
        candidates |= static_cast<unsigned>(step.candidates) << b;
        looked_at = step.next_looked_at;
      }
      candidate[g] = static_cast<Mask>(candidates & in_range);
    }
    for (int g = begin; g < end; ++g) {
      unsigned alive = candidate[g];
      for (size_t s = 1; alive != 0 && s < stages_.size(); ++s) {
        alive &= evaluate(s, row + g * kLanes);
      }
      for (; alive != 0; alive &= alive - 1) {
        const int x = (g * kLanes + std::countr_zero(alive)) * step;
        // OpenCV clips its windows to the image, rounding may cross it.
        const cv::Rect hit =
            cv::Rect(cvRound(x * scale), cvRound(y * scale), found.width, found.height) &
            cv::Rect(0, 0, grey.cols, grey.rows);
        if (!hit.empty()) hits->push_back(hit);
      }
    }
  }
}

}  // namespace stache::detector::internal
