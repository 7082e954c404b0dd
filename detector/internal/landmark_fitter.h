// Landmarks and roll for a face box found by a FaceFinder: fitted by dlib's
// 68-point shape predictor on the full-resolution image, or estimated from
// the box geometry (with the eyes found by an eye cascade when it can).
//
//   STACHE_ASSIGN_OR_RETURN(auto fitter, MakeShapePredictorFitter(model_path));
//   STACHE_ASSIGN_OR_RETURN(FittedFace fitted, fitter->Fit(bgr, box, 0));
#ifndef STACHE_DETECTOR_INTERNAL_LANDMARK_FITTER_H_
#define STACHE_DETECTOR_INTERNAL_LANDMARK_FITTER_H_

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "detector/detector.h"

namespace stache::detector::internal {

struct FittedFace {
  FaceLandmarks landmarks;
  // Every point of the shape model (68, iBUG 300-W order), or empty.
  std::vector<cv::Point2f> shape;
  float roll_degrees = 0;
  LandmarkSource source = LandmarkSource::kCascadeGeometry;
};

// Thread-safe: Fit may be called concurrently.
class LandmarkFitter {
 public:
  virtual ~LandmarkFitter() = default;
  // `bgr` is the full image (CV_8UC3); `box` is a dlib-style face box in its
  // pixels; `roll_hint_degrees` is the finder's coarse roll.
  virtual absl::StatusOr<FittedFace> Fit(const cv::Mat& bgr, const cv::Rect2f& box,
                                         float roll_hint_degrees) const = 0;
};

// Loads dlib's 68-point model (about a second for the 100 MB file). Fails
// with a message naming the file when it is missing or not such a model.
absl::StatusOr<std::unique_ptr<LandmarkFitter>> MakeShapePredictorFitter(
    const std::string& model_path);

// Box geometry, refined by `eye_cascade_path` when it is not empty (fails
// with a message naming the file when it cannot be read).
absl::StatusOr<std::unique_ptr<LandmarkFitter>> MakeGeometryFitter(
    const std::string& eye_cascade_path);

// The roll of a face whose eyes (viewer's left, viewer's right) are here:
// positive when the eye line falls to the right.
float RollFromEyes(const cv::Point2f& left_eye, const cv::Point2f& right_eye);

// Landmarks of an average face in `box` (dlib-style), rolled by `roll_degrees`.
FaceLandmarks LandmarksFromBox(const cv::Rect2f& box, float roll_degrees);

// The box, upright and dlib-style, of an average face whose eyes are at
// these points.
cv::Rect2f BoxFromEyes(const cv::Point2f& left_eye, const cv::Point2f& right_eye);

// Landmarks of an average face whose eyes are at these points.
FaceLandmarks LandmarksFromEyes(const cv::Point2f& left_eye,
                                const cv::Point2f& right_eye);

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_LANDMARK_FITTER_H_
