// The face finders behind FaceDetector: each looks at a small greyscale copy
// of the photo and returns face boxes in that copy's pixels.
//
//   std::unique_ptr<FaceFinder> finder = MakeHogFaceFinder();
//   STACHE_ASSIGN_OR_RETURN(std::vector<FaceCandidate> faces,
//                           finder->Find(small_grey, 0, server::CallDeadline{}));
#ifndef STACHE_DETECTOR_INTERNAL_FACE_FINDER_H_
#define STACHE_DETECTOR_INTERNAL_FACE_FINDER_H_

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/call_deadline.h"

namespace stache::detector::internal {

struct FaceCandidate {
  // In the pixels of the image given to Find. Boxes follow dlib's frontal
  // face convention (brows to chin, ear to ear) whatever the finder, so that
  // the shape predictor and the box geometry see the same kind of box.
  cv::Rect2f box;
  // 0..1; 0.5 at the finder's decision threshold.
  float confidence = 0;
  // The finder's own coarse estimate of the roll (degrees, clockwise
  // positive), 0 when it has none.
  float roll_hint_degrees = 0;
};

// Thread-safe: Find may be called concurrently.
class FaceFinder {
 public:
  virtual ~FaceFinder() = default;
  // Smallest face box width (pixels of the image given to Find) the finder
  // can see; the caller scales the image so that wanted faces reach it.
  virtual float smallest_face_px() const = 0;
  // `grey` is CV_8UC1. Faces narrower than `min_face_px` may be skipped.
  // A finder that works in passes checks `deadline` between them.
  virtual absl::StatusOr<std::vector<FaceCandidate>> Find(
      const cv::Mat& grey, float min_face_px,
      const server::CallDeadline& deadline) const = 0;
  // True when Find wants the image at full resolution and picks its own
  // scales: then `min_face_px` is in the image's pixels and is what it must
  // find.
  virtual bool ScalesItself() const { return false; }
};

// dlib's HOG frontal face detector (five filters: frontal, turned left and
// right, rolled left and right).
std::unique_ptr<FaceFinder> MakeHogFaceFinder();

// An OpenCV cascade file, run on the upright image and on copies rotated by
// +-kCascadeRollDegrees. Fails with a message naming the file when it cannot
// be read or is not a cascade.
absl::StatusOr<std::unique_ptr<FaceFinder>> MakeCascadeFaceFinder(
    const std::string& path);

inline constexpr float kCascadeRollDegrees = 20;

// Coarse to fine: the cascade at `cascade_path` (a small-window one, such as
// lbpcascade_frontalface.xml's 24 px) on a copy just large enough for the
// smallest wanted face, upright and rolled by +-kCascadeRollDegrees; then
// each candidate is confirmed by dlib's HOG detector on a crop of the full
// image turned upright and scaled to the size HOG sees best, which also
// gives the box. Cost grows with the image's area at the coarse scale and
// with the number of candidates, not with the photo's resolution.
absl::StatusOr<std::unique_ptr<FaceFinder>> MakeCoarseToFineFaceFinder(
    const std::string& cascade_path);

// Greedy non-maximum suppression: keeps the most confident of boxes that
// overlap by more than `max_overlap` (intersection over the smaller box).
std::vector<FaceCandidate> SuppressOverlaps(std::vector<FaceCandidate> candidates,
                                            float max_overlap);

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_FACE_FINDER_H_
