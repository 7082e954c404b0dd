#include "overlay/testing/mustache_measure.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace stache::overlay::testing {

Face MakeFace(cv::Point2d anchor, double inter_ocular_px, double roll_degrees,
              double philtrum_ratio) {
  const double c = std::cos(roll_degrees * CV_PI / 180),
               s = std::sin(roll_degrees * CV_PI / 180);
  // Face frame in units of the inter-ocular distance, origin on the philtrum.
  auto at = [&](double x, double y) {
    x *= inter_ocular_px;
    y *= inter_ocular_px;
    return cv::Point2d(anchor.x + c * x - s * y, anchor.y + s * x + c * y);
  };
  const double half_philtrum = philtrum_ratio / 2;
  return Face{.landmarks = {.left_eye_center = at(-0.5, -0.95),
                            .right_eye_center = at(0.5, -0.95),
                            .nose_base = at(0, -half_philtrum),
                            .upper_lip_top = at(0, half_philtrum),
                            .mouth_left = at(-0.42, half_philtrum + 0.06),
                            .mouth_right = at(0.42, half_philtrum + 0.06)},
              .roll_degrees = roll_degrees};
}

Face GraceHopperFace() {
  return Face{.landmarks = {.left_eye_center = {223, 190},
                            .right_eye_center = {305, 187},
                            .nose_base = {267, 249},
                            .upper_lip_top = {267, 272},
                            .mouth_left = {231, 280},
                            .mouth_right = {300, 277}},
              // The eye line rises 3 px over 82 px to the viewer's right.
              .roll_degrees = std::atan2(-3.0, 82.0) * 180 / CV_PI};
}

Face ScaledFace(const Face& face, double factor) {
  Face scaled = face;
  for (cv::Point2d* p :
       {&scaled.landmarks.left_eye_center, &scaled.landmarks.right_eye_center,
        &scaled.landmarks.nose_base, &scaled.landmarks.upper_lip_top,
        &scaled.landmarks.mouth_left, &scaled.landmarks.mouth_right}) {
    *p *= factor;
  }
  return scaled;
}

cv::Mat ChangedPixels(const cv::Mat& before, const cv::Mat& after) {
  CV_Assert(before.size() == after.size() && before.type() == after.type());
  cv::Mat difference;
  cv::absdiff(before, after, difference);
  cv::Mat changed = difference.reshape(1, static_cast<int>(difference.total()));
  cv::reduce(changed, changed, 1, cv::REDUCE_MAX);
  changed = changed.reshape(1, before.rows);
  return changed > 0;
}

MaskShape MeasureShape(const cv::Mat& mask) {
  const cv::Moments m = cv::moments(mask, /*binaryImage=*/true);
  MaskShape shape;
  shape.area = m.m00;
  if (m.m00 == 0) return shape;
  shape.centroid = {m.m10 / m.m00, m.m01 / m.m00};
  shape.angle_degrees = 0.5 * std::atan2(2 * m.mu11, m.mu20 - m.mu02) * 180 / CV_PI;
  return shape;
}

double AxisAngleDifference(double a_degrees, double b_degrees) {
  double d = std::fmod(std::abs(a_degrees - b_degrees), 180.0);
  return d > 90 ? 180 - d : d;
}

bool InsideRotatedRect(cv::Point2d point, const cv::RotatedRect& rect, double margin) {
  const double angle = rect.angle * CV_PI / 180;
  const cv::Point2d d = point - cv::Point2d(rect.center);
  // Into the rectangle's own frame.
  const double u = d.x * std::cos(angle) + d.y * std::sin(angle);
  const double v = -d.x * std::sin(angle) + d.y * std::cos(angle);
  return std::abs(u) <= rect.size.width / 2 + margin &&
         std::abs(v) <= rect.size.height / 2 + margin;
}

int CountOutside(const cv::Mat& mask, const cv::RotatedRect& rect, double margin) {
  int outside = 0;
  for (int y = 0; y < mask.rows; ++y) {
    for (int x = 0; x < mask.cols; ++x) {
      if (mask.at<uint8_t>(y, x) != 0 &&
          !InsideRotatedRect({double(x), double(y)}, rect, margin)) {
        ++outside;
      }
    }
  }
  return outside;
}

}  // namespace stache::overlay::testing
