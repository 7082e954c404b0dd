// Test helpers for the overlay: faces with known landmarks, and
// measurements of where a mustache landed (which pixels changed, their
// centroid and principal angle).
//
//   Face face = MakeFace({320, 240}, /*inter_ocular_px=*/100, /*roll=*/15);
//   MaskShape shape = MeasureShape(ChangedPixels(before, after));
#ifndef STACHE_OVERLAY_TESTING_MUSTACHE_MEASURE_H_
#define STACHE_OVERLAY_TESTING_MUSTACHE_MEASURE_H_

#include <opencv2/core.hpp>

#include "overlay/mustache_renderer.h"
#include "overlay/mustache_style.h"

namespace stache::overlay::testing {

// A face whose philtrum is centred on `anchor`, with eyes `inter_ocular_px`
// apart, turned by `roll_degrees`, and a philtrum of `philtrum_ratio` times
// the inter-ocular distance.
Face MakeFace(cv::Point2d anchor, double inter_ocular_px, double roll_degrees,
              double philtrum_ratio = kTypicalPhiltrumLength);

// Landmarks placed by hand on grace_hopper.jpg (512x600), checked by eye.
Face GraceHopperFace();

// `face` on a copy of its image scaled by `factor`.
Face ScaledFace(const Face& face, double factor);

// CV_8U mask, 255 where any channel of `before` and `after` differs.
cv::Mat ChangedPixels(const cv::Mat& before, const cv::Mat& after);

struct MaskShape {
  double area = 0;
  cv::Point2d centroid;
  // Orientation of the major axis from second moments, in -90..90 degrees,
  // clockwise as a viewer sees it (y grows downwards).
  double angle_degrees = 0;
};
MaskShape MeasureShape(const cv::Mat& mask);

// Difference of two angles as orientations of an axis: in 0..90 degrees.
double AxisAngleDifference(double a_degrees, double b_degrees);

// Whether `point` lies inside `rect` grown by `margin` pixels on every side.
bool InsideRotatedRect(cv::Point2d point, const cv::RotatedRect& rect, double margin);

// The number of nonzero pixels of `mask` whose centre lies outside `rect`
// grown by `margin`.
int CountOutside(const cv::Mat& mask, const cv::RotatedRect& rect, double margin);

}  // namespace stache::overlay::testing

#endif  // STACHE_OVERLAY_TESTING_MUSTACHE_MEASURE_H_
