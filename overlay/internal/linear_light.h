// Alpha compositing in linear light. Blending 8-bit sRGB values directly
// darkens every anti-aliased edge (half-covered black over white comes out
// at 128 instead of the perceived 188); converting to linear light first
// leaves no dark fringes.
//
//   internal::CompositeInLinearLight(coverage, cv::Scalar(20, 30, 40),
//                                    image(roi));
#ifndef STACHE_OVERLAY_INTERNAL_LINEAR_LIGHT_H_
#define STACHE_OVERLAY_INTERNAL_LINEAR_LIGHT_H_

#include <opencv2/core.hpp>

namespace stache::overlay::internal {

// 8-bit sRGB to linear light in 0..1, and back (rounded).
float SrgbToLinear(uint8_t value);
uint8_t LinearToSrgb(float linear);

// Paints `colour_bgr` (8-bit sRGB) over `target` (CV_8UC3 BGR or CV_8UC4
// BGRA with straight alpha) with per-pixel opacity `coverage` (CV_8U, same
// size; 0 leaves the pixel untouched, 255 replaces it). Thread-safe.
void CompositeInLinearLight(const cv::Mat& coverage, const cv::Scalar& colour_bgr,
                            cv::Mat target);

}  // namespace stache::overlay::internal

#endif  // STACHE_OVERLAY_INTERNAL_LINEAR_LIGHT_H_
