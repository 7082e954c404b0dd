#include "overlay/mustache_renderer.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "overlay/internal/linear_light.h"

namespace stache::overlay {
namespace {

// The style frame's unit is the inter-ocular distance. When the eyes are
// missing or coincide, the mouth width stands in for it: a mouth is about
// this many inter-ocular distances wide.
constexpr double kTypicalMouthWidth = 0.85;
// A mustache narrower than this many pixels is not worth a face.
constexpr double kMinScalePx = 1.0;
// A philtrum far shorter or longer than typical (a cascade guess, an open
// mouth) stretches the style only this much.
constexpr double kMinHeightRatio = 0.75;
constexpr double kMaxHeightRatio = 1.35;
constexpr double kMaxRollDegrees = 360;

// Edges are anti-aliased by supersampling: outlines are filled at this many
// samples per pixel and axis, then averaged down.
constexpr int kSupersampling = 4;
// Huge faces get fewer samples, so a mustache on a 12 MP close-up does not
// allocate hundreds of megabytes.
constexpr int64_t kMaxSupersampledPixels = 8'000'000;
// Sub-pixel precision of cv::fillPoly, in bits.
constexpr int kFillShift = 8;

absl::Status CheckPoint(const char* name, cv::Point2d p, cv::Size image_size) {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
    return absl::InvalidArgumentError(
        absl::StrCat("landmark ", name, " is not a finite number"));
  }
  // One image size of slack on every side covers any face a detector can
  // report for this image, even one cut off by the edge.
  const double w = image_size.width, h = image_size.height;
  if (p.x < -w || p.x > 2 * w || p.y < -h || p.y > 2 * h) {
    return absl::InvalidArgumentError(
        absl::StrFormat("landmark %s (%g, %g) is far outside the %dx%d image", name, p.x,
                        p.y, image_size.width, image_size.height));
  }
  return absl::OkStatus();
}

// Maps style-frame points to image pixels.
struct StyleToImage {
  explicit StyleToImage(const MustachePlacement& placement)
      : anchor(placement.anchor),
        sx(placement.width_scale_px),
        sy(placement.height_scale_px),
        cos_roll(std::cos(placement.roll_degrees * CV_PI / 180)),
        sin_roll(std::sin(placement.roll_degrees * CV_PI / 180)) {}

  cv::Point2d operator()(cv::Point2d p) const {
    const double x = p.x * sx, y = p.y * sy;
    return {anchor.x + cos_roll * x - sin_roll * y,
            anchor.y + sin_roll * x + cos_roll * y};
  }

  cv::Point2d anchor;
  double sx, sy, cos_roll, sin_roll;
};

using Polylines = std::vector<std::vector<cv::Point2d>>;

Polylines ToImage(const Polylines& unit_polylines, const StyleToImage& to_image) {
  Polylines polylines;
  polylines.reserve(unit_polylines.size());
  for (const auto& unit_polyline : unit_polylines) {
    auto& polyline = polylines.emplace_back();
    polyline.reserve(unit_polyline.size());
    for (const cv::Point2d& p : unit_polyline) polyline.push_back(to_image(p));
  }
  return polylines;
}

// Bounding box of all points; empty for no points.
cv::Rect2d Extent(const Polylines& polylines) {
  double min_x = HUGE_VAL, min_y = HUGE_VAL, max_x = -HUGE_VAL, max_y = -HUGE_VAL;
  for (const auto& polyline : polylines) {
    for (const cv::Point2d& p : polyline) {
      min_x = std::min(min_x, p.x);
      min_y = std::min(min_y, p.y);
      max_x = std::max(max_x, p.x);
      max_y = std::max(max_y, p.y);
    }
  }
  return min_x > max_x ? cv::Rect2d()
                       : cv::Rect2d(min_x, min_y, max_x - min_x, max_y - min_y);
}

int ClampToInt(double v) { return static_cast<int>(std::clamp(v, -1e9, 1e9)); }

// The supersampled grid over an image region that outlines are filled on.
// Its sample centres sit on its integer coordinates, so image point p maps
// to (p - region.tl + 0.5) * factor - 0.5, in fixed point for cv::fillPoly.
class SampleGrid final {
 public:
  // `reach` bounds every point that will be converted.
  SampleGrid(cv::Rect region, int factor, const cv::Rect2d& reach)
      : region_(region), factor_(factor) {
    // Fewer fraction bits for a mustache far larger than the image, so
    // that fixed-point coordinates still fit in an int.
    const double farthest =
        factor *
        (std::max({std::abs(reach.x - region.x), std::abs(reach.br().x - region.x),
                   std::abs(reach.y - region.y), std::abs(reach.br().y - region.y)}) +
         1);
    while (shift_ > 0 && farthest * (1 << shift_) > (1 << 30)) --shift_;
  }

  int shift() const { return shift_; }

  std::vector<cv::Point> ToFixed(const std::vector<cv::Point2d>& points) const {
    std::vector<cv::Point> fixed;
    fixed.reserve(points.size());
    for (const cv::Point2d& p : points) {
      fixed.emplace_back(ToFixed(p.x, region_.x), ToFixed(p.y, region_.y));
    }
    return fixed;
  }

  // Averages the samples of each pixel (times `opacity`) into its coverage.
  cv::Mat ToCoverage(const cv::Mat& samples, double opacity) const {
    cv::Mat coverage = samples;
    if (factor_ > 1) cv::resize(samples, coverage, region_.size(), 0, 0, cv::INTER_AREA);
    if (opacity < 1) coverage.convertTo(coverage, CV_8U, opacity);
    return coverage;
  }

 private:
  int ToFixed(double v, int origin) const {
    return static_cast<int>(
        std::lround(((v - origin + 0.5) * factor_ - 0.5) * (1 << shift_)));
  }

  const cv::Rect region_;
  const int factor_;
  int shift_ = kFillShift;
};

}  // namespace

absl::StatusOr<MustachePlacement> PlaceMustache(const Face& face, cv::Size image_size) {
  const FaceLandmarks& l = face.landmarks;
  for (const auto& [name, point] :
       {std::pair{"left_eye_center", l.left_eye_center},
        std::pair{"right_eye_center", l.right_eye_center},
        std::pair{"nose_base", l.nose_base}, std::pair{"upper_lip_top", l.upper_lip_top},
        std::pair{"mouth_left", l.mouth_left}, std::pair{"mouth_right", l.mouth_right}}) {
    if (absl::Status status = CheckPoint(name, point, image_size); !status.ok())
      return status;
  }
  if (!std::isfinite(face.roll_degrees) ||
      std::abs(face.roll_degrees) > kMaxRollDegrees) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "roll_degrees %g is not an angle in -360..360", face.roll_degrees));
  }
  double scale = cv::norm(l.right_eye_center - l.left_eye_center);
  if (scale < kMinScalePx) {
    scale = cv::norm(l.mouth_right - l.mouth_left) / kTypicalMouthWidth;
  }
  if (scale < kMinScalePx) {
    return absl::InvalidArgumentError(
        "landmarks too close together to size a mustache: the eye centres and the "
        "mouth corners (nearly) coincide");
  }
  const double philtrum = cv::norm(l.upper_lip_top - l.nose_base);
  const double height_ratio = std::clamp(philtrum / (kTypicalPhiltrumLength * scale),
                                         kMinHeightRatio, kMaxHeightRatio);
  return MustachePlacement{.anchor = (l.nose_base + l.upper_lip_top) * 0.5,
                           .width_scale_px = scale,
                           .height_scale_px = scale * height_ratio,
                           .roll_degrees = face.roll_degrees};
}

cv::RotatedRect MustacheBounds(const MustachePlacement& placement,
                               const MustacheStyle& style) {
  const cv::Point2d centre =
      StyleToImage(placement)({style.bounds.x + style.bounds.width / 2,
                               style.bounds.y + style.bounds.height / 2});
  return cv::RotatedRect(
      cv::Point2f(centre),
      cv::Size2f(static_cast<float>(style.bounds.width * placement.width_scale_px),
                 static_cast<float>(style.bounds.height * placement.height_scale_px)),
      static_cast<float>(placement.roll_degrees));
}

absl::Status DrawMustache(const MustachePlacement& placement, const MustacheStyle& style,
                          cv::Mat& image) {
  if (image.type() != CV_8UC3 && image.type() != CV_8UC4) {
    return absl::InvalidArgumentError(
        "mustaches are drawn on 8-bit BGR or BGRA images only");
  }
  const StyleToImage to_image(placement);
  const Polylines outlines = ToImage(style.outlines, to_image);
  const Polylines strands = ToImage(style.strands, to_image);
  const cv::Rect2d extent = Extent(outlines);
  // Pixel centres sit on integer coordinates, so pixel i spans i-0.5..i+0.5.
  const cv::Rect region = cv::Rect(cv::Point(ClampToInt(std::floor(extent.x)),
                                             ClampToInt(std::floor(extent.y))),
                                   cv::Point(ClampToInt(std::ceil(extent.br().x)) + 1,
                                             ClampToInt(std::ceil(extent.br().y)) + 1)) &
                          cv::Rect(0, 0, image.cols, image.rows);
  if (region.empty()) return absl::OkStatus();  // Clipped away entirely.

  int factor = kSupersampling;
  while (factor > 1 &&
         int64_t{region.area()} * factor * factor > kMaxSupersampledPixels) {
    factor /= 2;
  }
  const SampleGrid grid(region, factor, extent | Extent(strands));
  try {
    cv::Mat shape =
        cv::Mat::zeros(region.height * factor, region.width * factor, CV_8UC1);
    for (const auto& outline : outlines) {
      // One call per outline, so that outlines that touch add up.
      cv::fillPoly(shape, std::vector<std::vector<cv::Point>>{grid.ToFixed(outline)},
                   cv::Scalar(255), cv::LINE_8, grid.shift());
    }
    internal::CompositeInLinearLight(grid.ToCoverage(shape, 1.0), style.colour_bgr,
                                     image(region));
    if (!strands.empty() && style.strand_opacity > 0) {
      cv::Mat hair = cv::Mat::zeros(shape.size(), CV_8UC1);
      const int thickness =
          std::max(1, static_cast<int>(std::lround(style.strand_width *
                                                   placement.width_scale_px * factor)));
      std::vector<std::vector<cv::Point>> fixed;
      for (const auto& strand : strands) fixed.push_back(grid.ToFixed(strand));
      cv::polylines(hair, fixed, /*isClosed=*/false, cv::Scalar(255), thickness,
                    cv::LINE_8, grid.shift());
      cv::min(hair, shape, hair);  // Hair stays inside the shape.
      internal::CompositeInLinearLight(grid.ToCoverage(hair, style.strand_opacity),
                                       style.strand_colour_bgr, image(region));
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("drawing the ", style.name,
                                            " mustache failed in OpenCV: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<cv::Mat> RenderStylePreview(const MustacheStyle& style, cv::Size size) {
  if (size.width < 8 || size.height < 8) {
    return absl::InvalidArgumentError("a style preview needs at least 8x8 pixels");
  }
  constexpr double kFill = 0.9;  // Leave a margin so edges are not cut.
  const double scale = std::min(size.width * kFill / style.bounds.width,
                                size.height * kFill / style.bounds.height);
  const cv::Point2d bounds_centre(style.bounds.x + style.bounds.width / 2,
                                  style.bounds.y + style.bounds.height / 2);
  const MustachePlacement placement{
      .anchor = cv::Point2d((size.width - 1) / 2.0, (size.height - 1) / 2.0) -
                bounds_centre * scale,
      .width_scale_px = scale,
      .height_scale_px = scale,
      .roll_degrees = 0};
  cv::Mat preview(size, CV_8UC4, cv::Scalar::all(0));
  if (absl::Status status = DrawMustache(placement, style, preview); !status.ok())
    return status;
  return preview;
}

}  // namespace stache::overlay
