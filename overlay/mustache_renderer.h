// Draws a mustache on one face of a decoded image (cv::Mat): places a style
// on the philtrum, scaled to the face and rotated by its roll, rasterises it
// anti-aliased and composites it in linear light. Touches only pixels inside
// the mustache's rotated bounding box; faces partly outside are clipped.
//
//   STACHE_ASSIGN_OR_RETURN(MustachePlacement placement,
//                           PlaceMustache(face, image.size()));
//   STACHE_RETURN_IF_ERROR(DrawMustache(placement, style, image));
#ifndef STACHE_OVERLAY_MUSTACHE_RENDERER_H_
#define STACHE_OVERLAY_MUSTACHE_RENDERER_H_

#include <opencv2/core.hpp>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "overlay/mustache_style.h"

namespace stache::overlay {

// The landmarks a mustache needs, in pixels of the image as a viewer sees it
// (EXIF orientation applied), as stache.detector.v1.FaceLandmarks has them.
struct FaceLandmarks {
  cv::Point2d left_eye_center;
  cv::Point2d right_eye_center;
  cv::Point2d nose_base;
  cv::Point2d upper_lip_top;
  cv::Point2d mouth_left;
  cv::Point2d mouth_right;
};

struct Face {
  FaceLandmarks landmarks;
  // In-plane rotation, positive when the face is turned clockwise as the
  // viewer sees it.
  double roll_degrees = 0;
  // The face's bounding box as the detector found it, when the caller sent
  // one; MustacheOverlay::Apply refuses a box outside the image.
  std::optional<cv::Rect2d> box;
};

// Where and how large a style is drawn: image point = anchor +
// R(roll) * (unit_x * width_scale_px, unit_y * height_scale_px).
struct MustachePlacement {
  // Midpoint of nose base and upper-lip top: the middle of the philtrum.
  cv::Point2d anchor;
  // Pixels per unit of the style frame, horizontally (the inter-ocular
  // distance) and vertically (adjusted to this face's philtrum length).
  double width_scale_px = 0;
  double height_scale_px = 0;
  double roll_degrees = 0;
};

// Checks `face` and computes its placement. INVALID_ARGUMENT for NaN or
// infinite values, landmarks far outside `image_size` (more than one image
// size beyond an edge), a roll beyond ±360 degrees, or landmarks too close
// together to size a mustache. A face partly or wholly outside the image is
// fine: DrawMustache clips it.
absl::StatusOr<MustachePlacement> PlaceMustache(const Face& face, cv::Size image_size);

// The rotated rectangle that `style` covers at `placement`, in image pixels.
// DrawMustache changes only pixels that overlap it, so none whose centre
// lies more than a pixel outside it.
cv::RotatedRect MustacheBounds(const MustachePlacement& placement,
                               const MustacheStyle& style);

// Draws `style` at `placement` into `image` (CV_8UC3 BGR or CV_8UC4 BGRA,
// sRGB). Thread-safe for distinct images.
absl::Status DrawMustache(const MustachePlacement& placement, const MustacheStyle& style,
                          cv::Mat& image);

// A CV_8UC4 BGRA picture of `style` on a transparent background, fitted into
// `size` with a small margin, for a style picker.
absl::StatusOr<cv::Mat> RenderStylePreview(const MustacheStyle& style, cv::Size size);

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_MUSTACHE_RENDERER_H_
