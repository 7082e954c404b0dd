// The mustache styles stache draws: each one is a set of closed outlines
// (flattened cubic Bézier curves) in a face-relative unit frame, drawn by our
// own code, so there is no third-party artwork to license.
//
//   std::vector<MustacheStyle> styles = MakeBuiltInStyles();
//   const MustacheStyle* style = FindStyle(styles, "handlebar");
#ifndef STACHE_OVERLAY_MUSTACHE_STYLE_H_
#define STACHE_OVERLAY_MUSTACHE_STYLE_H_

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace stache::overlay {

// The unit frame of a style: one unit is the face's inter-ocular distance,
// x grows to the viewer's right, y downwards, and the origin is the area
// centroid of the shape. The renderer puts that origin on the philtrum, so a
// style "sits" where its mass is. In this frame a typical philtrum (nose base
// to upper-lip top) is kTypicalPhiltrumLength long.
inline constexpr double kTypicalPhiltrumLength = 0.28;

// Immutable value; safe to share between threads.
struct MustacheStyle {
  // Name used in ApplyRequest.style, for example "handlebar".
  std::string name;
  // Name shown to people, for example "Handlebar".
  std::string display_name;
  // One sentence for a style picker.
  std::string description;
  // Fill colour, 8-bit sRGB in OpenCV's BGR order.
  cv::Scalar colour_bgr;
  // Closed outlines in the unit frame; the shape is their union. Outlines
  // may touch but are drawn one by one, so overlaps do not cancel out.
  std::vector<std::vector<cv::Point2d>> outlines;
  // Axis-aligned bounds of `outlines` in the unit frame.
  cv::Rect2d bounds;
  // Hair: open polylines in the unit frame, stroked in `strand_colour_bgr`
  // at `strand_opacity` over the fill and clipped to the shape, so the fill
  // reads as hair rather than a flat blob.
  std::vector<std::vector<cv::Point2d>> strands;
  double strand_width = 0;
  cv::Scalar strand_colour_bgr;
  double strand_opacity = 0;
};

// The styles stache ships, in the order ListStyles shows them: handlebar,
// chevron, walrus, pencil, english. Each is symmetric about x = 0 and
// centred on its area centroid.
std::vector<MustacheStyle> MakeBuiltInStyles();

// `style` in another fill colour, its hair strands shaded from it as the
// built-in styles' are.
MustacheStyle Recoloured(const MustacheStyle& style, const cv::Scalar& colour_bgr);

// The style called `name`, or nullptr.
const MustacheStyle* FindStyle(const std::vector<MustacheStyle>& styles,
                               absl::string_view name);

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_MUSTACHE_STYLE_H_
