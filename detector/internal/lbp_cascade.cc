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
#include "detector/internal/shrink.h"

// Lookup and TakesLeft return vectors by value, whose ABI depends on the
// target; they are always inlined into the stage functions, so no call
// crosses it. (GCC reports it at the end of the file, hence file-wide.)
#pragma GCC diagnostic ignored "-Wpsabi"

namespace stache::detector::internal {
namespace {

// Windows evaluated together; the lane loops below are written so that the
// compiler turns each into vector instructions.
constexpr int kLanes = 8;

// OpenCV lowers every stage threshold by this much as it reads a cascade.
constexpr float kThresholdEpsilon = 1e-5f;

// An LBP feature reads a 4x4 grid of integral-image corners: the 3x3 blocks
// of `block`'s size from its top-left corner.
constexpr int kCorners = 16;

// Columns are split into `step` planes (x, x + step, ... in one plane), so
// that the windows of one row, step pixels apart, read consecutive ints.
struct Planes {
  int32_t* data = nullptr;
  int rows = 0;
  int cols = 0;  // per plane row, with kLanes of padding
  int step = 1;

  // The offset of integral-image point (dx, dy) from window (0, 0).
  int Offset(int dx, int dy) const {
    return ((dx % step) * rows + dy) * cols + dx / step;
  }
};

// Ints left uninitialised (every one used is written first), grown as needed.
class Buffer {
 public:
  int32_t* Get(size_t size) {
    if (size > size_) {
      data_ = std::make_unique_for_overwrite<int32_t[]>(size);
      size_ = size;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<int32_t[]> data_;
  size_t size_ = 0;
};

// `sum`'s columns into planes held in `buffer` (reused from scale to scale).
// `step` is 1 or 2, as OpenCV steps.
Planes SplitColumns(const cv::Mat& sum, int step, Buffer* buffer) {
  Planes planes{
      .rows = sum.rows, .cols = (sum.cols + step - 1) / step + kLanes, .step = step};
  planes.data = buffer->Get(static_cast<size_t>(step) * planes.rows * planes.cols);
  const size_t plane_size = static_cast<size_t>(planes.rows) * planes.cols;
  for (int r = 0; r < sum.rows; ++r) {
    const int32_t* in = sum.ptr<int32_t>(r);
    int32_t* out = planes.data + static_cast<size_t>(r) * planes.cols;
    if (step == 1) {
      std::memcpy(out, in, sum.cols * sizeof(int32_t));
      std::fill(out + sum.cols, out + planes.cols, 0);
      continue;
    }
    // Both planes in one pass over the row, which the compiler vectorises.
    int32_t* odd = out + plane_size;
    const int pairs = sum.cols / 2;
    for (int j = 0; j < pairs; ++j) {
      out[j] = in[2 * j];
      odd[j] = in[2 * j + 1];
    }
    int even_end = pairs;
    if (sum.cols % 2 == 1) out[even_end++] = in[sum.cols - 1];
    std::fill(out + even_end, out + planes.cols, 0);
    std::fill(odd + pairs, odd + planes.cols, 0);
  }
  return planes;
}

// kLanes values, one per window, in GCC's (and Clang's) vector extension:
// arithmetic and comparisons on them are single vector instructions.
using Ints = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));
using Floats = float __attribute__((vector_size(kLanes * sizeof(float))));
using Doubles = double __attribute__((vector_size(kLanes / 2 * sizeof(double))));

// The word of `words` that `index` names, in each lane: one permute
// instruction with AVX2.
[[gnu::always_inline]] inline Ints Lookup(const Ints& words, const Ints& index) {
#if defined(__GNUC__) && !defined(__clang__)
  return __builtin_shuffle(words, index);
#else
  Ints word;
  for (int l = 0; l < kLanes; ++l) word[l] = words[index[l]];
  return word;
#endif
}

struct StumpAt {
  std::array<int, kCorners> corners;
  Ints categories;  // the 256 bits of Stump::categories
  float left;
  float right;
};

// For kLanes windows in a row, the first at `at`: -1 in the lanes whose
// LBP code for `stump` takes its left leaf, 0 in the others.
[[gnu::always_inline]] inline Ints TakesLeft(const StumpAt& stump, const int32_t* at) {
  // The 3x3 blocks, row by row, from the grid's rows of corners: the
  // differences along a row, then between rows (fewer values live at once
  // than all 16 corners).
  Ints block[9];
  Ints above[3] = {};
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    Ints corner[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      std::memcpy(&corner[c], at + stump.corners[r * 4 + c], sizeof corner[c]);
    }
#pragma GCC unroll 3
    for (int c = 0; c < 3; ++c) {
      const Ints across = corner[c] - corner[c + 1];
      if (r > 0) block[(r - 1) * 3 + c] = above[c] - across;
      above[c] = across;
    }
  }
  const Ints centre = block[4];
  // Clockwise from the top-left block, most significant bit first; a
  // comparison gives -1 where it holds.
  const Ints code = ((block[0] >= centre) & 128) | ((block[1] >= centre) & 64) |
                    ((block[2] >= centre) & 32) | ((block[5] >= centre) & 16) |
                    ((block[8] >= centre) & 8) | ((block[7] >= centre) & 4) |
                    ((block[6] >= centre) & 2) | ((block[3] >= centre) & 1);
  // Copied: the vector inside a StumpAt of a std::vector is only as aligned
  // as the default target's allocator makes it (16 bytes), while code built
  // for AVX2 and up may assume 32 (an AVX-512 version of this loop did, and
  // crashed).
  Ints categories;
  std::memcpy(&categories, &stump.categories, sizeof categories);
  return ((Lookup(categories, code >> 5) >> (code & 31)) & 1) != 0;
}

// Whether each of kLanes windows, the first at `at`, reaches the threshold
// of the stage made of `stumps[0..count)`: bit l of the result for window l.
// The leaves are summed in double, as OpenCV does.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
uint8_t
EvaluateStage(const StumpAt* stumps, int count, float threshold, const int32_t* at) {
  Doubles low = {}, high = {};
  for (int s = 0; s < count; ++s) {
    const Floats leaf =
        TakesLeft(stumps[s], at) ? Floats{} + stumps[s].left : Floats{} + stumps[s].right;
    low +=
        __builtin_convertvector(__builtin_shufflevector(leaf, leaf, 0, 1, 2, 3), Doubles);
    high +=
        __builtin_convertvector(__builtin_shufflevector(leaf, leaf, 4, 5, 6, 7), Doubles);
  }
  unsigned pass = 0;
  for (int l = 0; l < kLanes / 2; ++l) {
    pass |= static_cast<unsigned>(!(low[l] < threshold)) << l;
    pass |= static_cast<unsigned>(!(high[l] < threshold)) << (l + kLanes / 2);
  }
  return static_cast<uint8_t>(pass);
}

// As EvaluateStage for a stage of at most LbpCascade::kPatternStumps stumps,
// whose sum depends only on which leaf each stump takes: bit s of a window's
// pattern says stump s took its left leaf, and bit `pattern` of `passes`
// whether that sum reaches the threshold (worked out once, by OpenCV's
// arithmetic, in FromXml).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
uint8_t
EvaluateStageByPattern(const StumpAt* stumps, int count, const uint32_t* pass_table,
                       const int32_t* at) {
  Ints passes;
  std::memcpy(&passes, pass_table, sizeof passes);
  Ints pattern = {};
  for (int s = 0; s < count; ++s) pattern |= TakesLeft(stumps[s], at) & (1 << s);
  const Ints pass = (Lookup(passes, pattern >> 5) >> (pattern & 31)) & 1;
  unsigned bits = 0;
  for (int l = 0; l < kLanes; ++l) bits |= static_cast<unsigned>(pass[l]) << l;
  return static_cast<uint8_t>(bits);
}

// OpenCV's walk along a row of windows, eight at a time: from one the first
// stage passes it goes to the next, from one it rejects to the one after.
// For whether the first of eight windows is looked at, and which of them
// the first stage passes (bit l for window l): the windows looked at and
// passed, and whether the first window of the next eight is looked at.
struct SkipStep {
  uint8_t candidates;
  uint8_t next_looked_at;
};
static_assert(kLanes == 8, "kSkips walks a byte of windows");
constexpr std::array<std::array<SkipStep, 256>, 2> kSkips = [] {
  std::array<std::array<SkipStep, 256>, 2> table{};
  for (unsigned looked_at_first = 0; looked_at_first < 2; ++looked_at_first) {
    for (unsigned passed = 0; passed < 256; ++passed) {
      unsigned looked_at = looked_at_first;
      unsigned candidates = 0;
      for (int l = 0; l < kLanes; ++l) {
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
  cv::Mat scaled;
  cv::Mat sum;
  Buffer planes;
  std::vector<StumpAt> stumps;
  // One bit per window, kLanes windows per byte.
  std::vector<uint8_t> passed_first;
  std::vector<uint8_t> candidate;
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
                      const std::vector<cv::Point2f>& region) const {
  CV_Assert(grey.type() == CV_8UC1 && scale_step > 1);
  if (max_size.width == 0 || max_size.height == 0) max_size = grey.size();
  Scratch scratch;
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
  ShrinkBilinearExact(grey, size, &scaled);
  cv::Mat& sum = scratch->sum;
  cv::integral(scaled, sum, CV_32S);
  // Window origins: x and y below these, `step` apart.
  const int end_x = sum.cols - window_.width;
  const int end_y = sum.rows - window_.height;
  if (end_x <= 0 || end_y <= 0) return;
  const int step = scale >= 2 ? 1 : 2;
  const Planes planes = SplitColumns(sum, step, &scratch->planes);

  std::vector<StumpAt>& stumps = scratch->stumps;
  stumps.clear();
  for (const Stump& stump : stumps_) {
    StumpAt at{.left = stump.left, .right = stump.right};
    std::memcpy(&at.categories, stump.categories.data(), sizeof at.categories);
    for (int k = 0; k < kCorners; ++k) {
      at.corners[k] = planes.Offset(stump.block.x + (k % 4) * stump.block.width,
                                    stump.block.y + (k / 4) * stump.block.height);
    }
    stumps.push_back(at);
  }
  auto evaluate = [&stumps](const Stage& stage, const int32_t* at) {
    if (stage.count > kPatternStumps) {
      return EvaluateStage(&stumps[stage.first], stage.count, stage.threshold, at);
    }
    // One word of the table per lane.
    static_assert(sizeof stage.passes == sizeof(Ints));
    return EvaluateStageByPattern(&stumps[stage.first], stage.count, stage.passes.data(),
                                  at);
  };
  const cv::Size found(cvRound(window_.width * scale), cvRound(window_.height * scale));

  const int positions = (end_x + step - 1) / step;
  const int groups = (positions + kLanes - 1) / kLanes;
  scratch->passed_first.resize(groups);
  scratch->candidate.resize(groups);
  // Local pointers: byte stores through the vectors' own would make the
  // compiler reload their data pointers after each one.
  uint8_t* const passed_first = scratch->passed_first.data();
  uint8_t* const candidate = scratch->candidate.data();
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
    const int32_t* row = planes.data + static_cast<size_t>(y) * planes.cols;
    for (int g = begin; g < end; ++g) {
      passed_first[g] = evaluate(stages_[0], row + g * kLanes);
    }
    // OpenCV skips the window after one the first stage rejects: a byte of
    // windows at a time through kSkips. Windows before `first` count as
    // passed, so that `first` is looked at; those outside first..last are
    // no candidates.
    unsigned looked_at = 1;
    for (int g = begin; g < end; ++g) {
      unsigned passed = passed_first[g];
      unsigned in_range = 0xff;
      if (g == begin) {
        const unsigned before = (1u << (first % kLanes)) - 1;
        passed |= before;
        in_range &= ~before;
      }
      if (g == end - 1) in_range &= (2u << (last % kLanes)) - 1;
      const SkipStep& step = kSkips[looked_at][passed];
      candidate[g] = step.candidates & in_range;
      looked_at = step.next_looked_at;
    }
    for (int g = begin; g < end; ++g) {
      unsigned alive = candidate[g];
      for (size_t s = 1; alive != 0 && s < stages_.size(); ++s) {
        alive &= evaluate(stages_[s], row + g * kLanes);
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
