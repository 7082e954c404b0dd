// OpenCV's LBP cascades (lbpcascade_frontalface*.xml: boosted stumps on
// 3x3-block local binary patterns), evaluated sixteen windows at a time.
//
// cv::CascadeClassifier tests one window at a time, each feature through a
// virtual call and a trace region; the coarse face finder spent four
// fifths of its CPU there. This evaluator accepts exactly the windows
// OpenCV's CPU path accepts (the same scales, resized copies, steps and the
// skip after a window rejected at the first stage; lbp_cascade_test holds
// the two to the same hits), so everything measured with OpenCV's stays
// true, at a fraction of the cost.
//
//   STACHE_ASSIGN_OR_RETURN(LbpCascade cascade, LbpCascade::FromXml(xml));
//   std::vector<cv::Rect> hits;
//   cascade.Scan(grey, 1.1, cv::Size(24, 24), cv::Size(), &hits);
//   cv::groupRectangles(hits, neighbours, 3, 0.2);
#ifndef STACHE_DETECTOR_INTERNAL_LBP_CASCADE_H_
#define STACHE_DETECTOR_INTERNAL_LBP_CASCADE_H_

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stache::detector::internal {

// Immutable once made, so one instance serves every thread.
class LbpCascade {
 public:
  // INVALID_ARGUMENT unless `xml` is an OpenCV cascade (the format
  // opencv_traincascade writes) of LBP stumps over 256 categories, with
  // blocks of at most 257 pixels (every cascade opencv-data ships); Haar
  // cascades and trees deeper than one split are not supported.
  static absl::StatusOr<LbpCascade> FromXml(const std::string& xml);

  cv::Size window() const { return window_; }

  // Appends every window the cascade accepts in `grey` (CV_8UC1), as
  // cv::CascadeClassifier::detectMultiScale with these arguments and no
  // grouping (minNeighbors 0) finds them: window sizes from the cascade's
  // own up by `scale_step`, those below `min_size` skipped, none above
  // `max_size` (empty: the image's size).
  //
  // With a `region` (a convex polygon in `grey`'s pixels, such as where a
  // turned copy holds the photo rather than its replicated edges), only
  // windows whose centres lie in it are tested. The skip after a rejected
  // window then starts afresh at the region's edge in each row, so hits near
  // its left edge may differ from OpenCV's.
  //
  // `use_avx2`: false tries the path of CPUs without AVX2 (for tests).
  void Scan(const cv::Mat& grey, double scale_step, cv::Size min_size, cv::Size max_size,
            std::vector<cv::Rect>* hits, const std::vector<cv::Point2f>& region = {},
            bool use_avx2 = true) const;

 private:
  struct Stump {
    cv::Rect block;                      // one of the 3x3 blocks, in window pixels
    std::array<uint32_t, 8> categories;  // LBP codes that take the left leaf
    float left = 0;
    float right = 0;
  };
  // A stage of at most this many stumps is decided by a table of which
  // leaves its stumps took rather than by summing them.
  static constexpr int kPatternStumps = 8;
  struct Stage {
    int first = 0;  // index into stumps_
    int count = 0;
    float threshold = 0;
    // When count <= kPatternStumps: bit p says whether the stage passes a
    // window whose stump s took its left leaf where bit s of p is set.
    std::array<uint32_t, (1 << kPatternStumps) / 32> passes{};
  };

  // Buffers one Scan reuses from scale to scale.
  struct Scratch;

  void ScanScale(const cv::Mat& grey, float scale, const std::vector<cv::Point2f>& region,
                 Scratch* scratch, std::vector<cv::Rect>* hits) const;

  cv::Size window_;
  std::vector<Stump> stumps_;
  std::vector<Stage> stages_;
};

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_LBP_CASCADE_H_
