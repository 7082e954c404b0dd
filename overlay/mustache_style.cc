#include "overlay/mustache_style.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace stache::overlay {
namespace {

using Outline = std::vector<cv::Point2d>;

// Enough segments per cubic that the flattening error stays far below a
// pixel even for a face that fills a 12 MP photo.
constexpr int kSegmentsPerCurve = 32;

// Builds one outline from straight and cubic Bézier pieces.
class OutlineBuilder final {
 public:
  explicit OutlineBuilder(cv::Point2d start) { points_.push_back(start); }

  OutlineBuilder& LineTo(cv::Point2d end) {
    points_.push_back(end);
    return *this;
  }

  OutlineBuilder& CurveTo(cv::Point2d control1, cv::Point2d control2, cv::Point2d end) {
    const cv::Point2d start = points_.back();
    for (int i = 1; i <= kSegmentsPerCurve; ++i) {
      const double t = static_cast<double>(i) / kSegmentsPerCurve;
      const double u = 1.0 - t;
      points_.push_back(u * u * u * start + 3 * u * u * t * control1 +
                        3 * u * t * t * control2 + t * t * t * end);
    }
    return *this;
  }

  Outline Build() { return std::move(points_); }

 private:
  Outline points_;
};

cv::Point2d Mirror(cv::Point2d p) { return {-p.x, p.y}; }

// A symmetric outline from its right half, traced from a point on the axis
// (x = 0) around the right side back to another point on the axis.
Outline MirrorRightHalf(const Outline& right_half) {
  Outline outline = right_half;
  // Walk the mirrored half backwards, skipping the two axis points.
  for (auto it = right_half.rbegin() + 1; it + 1 != right_half.rend(); ++it) {
    outline.push_back(Mirror(*it));
  }
  return outline;
}

Outline MirrorOutline(const Outline& outline) {
  Outline mirrored;
  mirrored.reserve(outline.size());
  // Reversed, so the winding stays the same.
  for (auto it = outline.rbegin(); it != outline.rend(); ++it) {
    mirrored.push_back(Mirror(*it));
  }
  return mirrored;
}

constexpr double kStrandWidth = 0.008;
constexpr double kStrandLightening = 30;
constexpr double kStrandOpacity = 0.3;
constexpr double kStrandSpacing = 0.022;

// Hair grows down and away from the philtrum: strands run from the top to
// the bottom of the shape, leaning outwards more the further out they are,
// with a fixed pseudo-random jitter so they do not look ruled.
std::vector<Outline> HairStrands(const cv::Rect2d& bounds) {
  std::vector<Outline> strands;
  uint32_t state = 12345;
  auto jitter = [&state] {  // Uniform in -1..1, the same on every platform.
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / (1 << 23) - 1.0;
  };
  const double half_width = std::max(-bounds.x, bounds.x + bounds.width);
  const double top = bounds.y - 0.02, bottom = bounds.y + bounds.height + 0.02;
  const int count = static_cast<int>(2 * half_width / kStrandSpacing);
  for (int k = 0; k < count; ++k) {
    const double u = -1 + 2 * (k + 0.5 + 0.4 * jitter()) / count;
    const cv::Point2d start(u * half_width, top);
    const cv::Point2d end(start.x + u * 0.6 * (bottom - top) + 0.01 * jitter(), bottom);
    const cv::Point2d bend(0.5 * (start.x + end.x) + 0.2 * u * (bottom - top),
                           0.5 * (top + bottom));
    strands.push_back(OutlineBuilder(start).CurveTo(bend, bend, end).Build());
  }
  return strands;
}

cv::Scalar StrandColour(const cv::Scalar& colour_bgr) {
  return colour_bgr + cv::Scalar::all(kStrandLightening);
}

// Moves the outlines so that the area centroid of their union (they do not
// overlap) is the origin, and fills in the bounds.
MustacheStyle Finish(std::string name, std::string display_name, std::string description,
                     cv::Scalar colour_bgr, std::vector<Outline> outlines) {
  double area = 0, moment_x = 0, moment_y = 0;
  for (const Outline& outline : outlines) {
    for (size_t i = 0; i < outline.size(); ++i) {
      const cv::Point2d& a = outline[i];
      const cv::Point2d& b = outline[(i + 1) % outline.size()];
      const double cross = a.x * b.y - b.x * a.y;
      area += cross;
      moment_x += (a.x + b.x) * cross;
      moment_y += (a.y + b.y) * cross;
    }
  }
  const cv::Point2d centroid(moment_x / (3 * area), moment_y / (3 * area));
  double min_x = 1e9, min_y = 1e9, max_x = -1e9, max_y = -1e9;
  for (Outline& outline : outlines) {
    for (cv::Point2d& p : outline) {
      p -= centroid;
      min_x = std::min(min_x, p.x);
      min_y = std::min(min_y, p.y);
      max_x = std::max(max_x, p.x);
      max_y = std::max(max_y, p.y);
    }
  }
  const cv::Rect2d bounds(min_x, min_y, max_x - min_x, max_y - min_y);
  return MustacheStyle{.name = std::move(name),
                       .display_name = std::move(display_name),
                       .description = std::move(description),
                       .colour_bgr = colour_bgr,
                       .outlines = std::move(outlines),
                       .bounds = bounds,
                       .strands = HairStrands(bounds),
                       .strand_width = kStrandWidth,
                       .strand_colour_bgr = StrandColour(colour_bgr),
                       .strand_opacity = kStrandOpacity};
}

// A full body over the upper lip that thins out sideways into upturned curls.
MustacheStyle Handlebar() {
  Outline right = OutlineBuilder({0, -0.07})
                      .CurveTo({0.06, -0.12}, {0.17, -0.12}, {0.27, -0.08})
                      .CurveTo({0.37, -0.04}, {0.46, -0.02}, {0.54, -0.07})
                      .CurveTo({0.61, -0.11}, {0.61, -0.21}, {0.55, -0.25})
                      .CurveTo({0.60, -0.27}, {0.67, -0.22}, {0.67, -0.14})
                      .CurveTo({0.67, -0.03}, {0.58, 0.04}, {0.46, 0.05})
                      .CurveTo({0.33, 0.06}, {0.22, 0.11}, {0.10, 0.11})
                      .CurveTo({0.05, 0.11}, {0.02, 0.09}, {0, 0.07})
                      .Build();
  return Finish("handlebar", "Handlebar",
                "A full body over the upper lip thinning into upturned curls.",
                cv::Scalar(24, 30, 44), {MirrorRightHalf(right)});
}

// Thick and wide, covering the upper lip like an inverted V.
MustacheStyle Chevron() {
  Outline right = OutlineBuilder({0, -0.15})
                      .CurveTo({0.14, -0.16}, {0.30, -0.10}, {0.40, -0.02})
                      .CurveTo({0.46, 0.03}, {0.50, 0.10}, {0.52, 0.17})
                      .CurveTo({0.42, 0.15}, {0.30, 0.12}, {0.18, 0.12})
                      .CurveTo({0.10, 0.12}, {0.04, 0.11}, {0, 0.09})
                      .Build();
  return Finish("chevron", "Chevron",
                "Thick and wide, covering the upper lip like an inverted V.",
                cv::Scalar(38, 52, 78), {MirrorRightHalf(right)});
}

// Bushy and drooping past the mouth corners, with a ragged fringe of hair
// tips along the bottom edge.
MustacheStyle Walrus() {
  OutlineBuilder builder({0, -0.10});
  builder.CurveTo({0.20, -0.15}, {0.46, -0.11}, {0.56, 0.04})
      .CurveTo({0.61, 0.13}, {0.62, 0.24}, {0.60, 0.34});
  // Fringe: tips hang lower towards the sides, where the hair is longest.
  const std::vector<std::pair<double, double>> fringe = {
      {0.55, 0.27}, {0.52, 0.32},  {0.47, 0.22}, {0.43, 0.27},
      {0.38, 0.18}, {0.33, 0.22},  {0.28, 0.15}, {0.23, 0.18},
      {0.18, 0.13}, {0.13, 0.155}, {0.08, 0.12}, {0.04, 0.14}};
  for (const auto& [x, y] : fringe) builder.LineTo({x, y});
  builder.LineTo({0, 0.11});
  return Finish("walrus", "Walrus",
                "Bushy and drooping past the mouth corners, with a ragged fringe.",
                cv::Scalar(40, 72, 112), {MirrorRightHalf(builder.Build())});
}

// Two thin slivers with a parting at the philtrum.
MustacheStyle Pencil() {
  Outline right = OutlineBuilder({0.035, 0.0})
                      .CurveTo({0.15, -0.035}, {0.32, -0.035}, {0.44, 0.01})
                      .CurveTo({0.32, -0.005}, {0.15, 0.0}, {0.035, 0.03})
                      .Build();
  return Finish("pencil", "Pencil", "Two thin slivers with a parting at the philtrum.",
                cv::Scalar(20, 20, 24), {right, MirrorOutline(right)});
}

// A slim body drawn out into long, straight waxed points.
MustacheStyle English() {
  Outline right = OutlineBuilder({0, -0.08})
                      .CurveTo({0.07, -0.11}, {0.16, -0.10}, {0.26, -0.06})
                      .CurveTo({0.38, -0.03}, {0.52, -0.05}, {0.70, -0.09})
                      .CurveTo({0.56, -0.01}, {0.42, 0.05}, {0.28, 0.07})
                      .CurveTo({0.16, 0.09}, {0.06, 0.08}, {0, 0.05})
                      .Build();
  return Finish("english", "English",
                "A slim body drawn out into long, straight waxed points.",
                cv::Scalar(30, 48, 70), {MirrorRightHalf(right)});
}

}  // namespace

std::vector<MustacheStyle> MakeBuiltInStyles() {
  return {Handlebar(), Chevron(), Walrus(), Pencil(), English()};
}

MustacheStyle Recoloured(const MustacheStyle& style, const cv::Scalar& colour_bgr) {
  MustacheStyle recoloured = style;
  recoloured.colour_bgr = colour_bgr;
  recoloured.strand_colour_bgr = StrandColour(colour_bgr);
  return recoloured;
}

const MustacheStyle* FindStyle(const std::vector<MustacheStyle>& styles,
                               absl::string_view name) {
  for (const MustacheStyle& style : styles) {
    if (style.name == name) return &style;
  }
  return nullptr;
}

}  // namespace stache::overlay
