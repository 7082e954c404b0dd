// Puts mustaches on a photo: decodes it (pixel limit, EXIF orientation
// applied, through the shared imaging code), draws one mustache per face and
// re-encodes it as JPEG, PNG or WebP without an orientation tag. A JPEG that
// stays a JPEG at its own quality is changed in its DCT coefficients
// instead: only the blocks under the mustaches are decoded and coded again,
// and the rest of the photo keeps its exact bits (see
// imaging::JpegCoefficientEditor).
//
//   STACHE_ASSIGN_OR_RETURN(std::unique_ptr<MustacheOverlay> overlay,
//                           MustacheOverlay::Create({.default_style = "walrus"}));
//   STACHE_ASSIGN_OR_RETURN(OverlayResult result,
//                           overlay->Apply({.image = bytes, .faces = faces}));
#ifndef STACHE_OVERLAY_MUSTACHE_OVERLAY_H_
#define STACHE_OVERLAY_MUSTACHE_OVERLAY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "imaging/decode_budget.h"
#include "imaging/image_decoder.h"
#include "overlay/mustache_renderer.h"
#include "overlay/mustache_style.h"
#include "server/call_deadline.h"

namespace stache::overlay {

// The style name that picks a style per face at random.
inline constexpr absl::string_view kRandomStyle = "random";

struct OverlayConfig {
  // Style used when a request names none: a style name or "random".
  std::string default_style = "handlebar";
  // Largest decoded image (width * height, stored size) accepted.
  int64_t max_pixels = 40'000'000;
  // Largest decoded image in bytes, width * height * channels * bytes per
  // channel as stored, checked before any pixel buffer is allocated.
  int64_t max_decoded_bytes = 160'000'000;
  // Memory all decodes in flight may hold together (see
  // imaging::DecodeMemoryBudget); a call over it waits briefly, then gets
  // RESOURCE_EXHAUSTED.
  int64_t decode_memory_bytes = int64_t{1} << 30;
  // JPEG and WebP quality used when a request asks for 0.
  int default_quality = 90;
  // Faces one request may ask for; each costs a draw over up to the whole
  // image, so the count bounds a request's CPU.
  int max_faces = 64;
  // Edits JPEGs that stay JPEGs at quality 0 in their DCT coefficients (see
  // OverlayPath::kJpegCoefficients); false decodes and re-encodes them.
  bool edit_jpeg_coefficients = true;
};

// INVALID_ARGUMENT naming the bad field.
absl::Status ValidateOverlayConfig(const OverlayConfig& config);

struct OverlayRequest {
  // The encoded photo: JPEG, PNG, WebP, BMP or TIFF.
  absl::string_view image;
  // In pixels of the photo as a viewer sees it (orientation applied).
  std::vector<Face> faces;
  // A style name, "random", or empty for the configured default.
  std::string style;
  // kJpeg, kPng or kWebp; nullopt keeps the input's format (JPEG for inputs
  // that are BMP or TIFF).
  std::optional<imaging::ImageFormat> output_format;
  // 1..100 for JPEG and WebP, 0 for the configured default; except that a
  // JPEG written as JPEG at 0 keeps its own quantisation (and every block no
  // mustache touches), when OverlayConfig::edit_jpeg_coefficients is on.
  uint32_t quality = 0;
  // Seed for "random"; 0 picks a fresh one.
  uint64_t random_seed = 0;
  // Draws every face in this fill colour (8-bit, OpenCV's BGR order)
  // instead of the style's own.
  std::optional<cv::Scalar> colour_bgr;
  // Size relative to the style's natural size for the face, kMinScale..kMaxScale.
  double scale = 1;
};

inline constexpr double kMinScale = 0.5;
inline constexpr double kMaxScale = 2;

// How Apply made its output.
enum class OverlayPath {
  // Decoded whole, drawn on, encoded whole.
  kPixels,
  // A JPEG kept as JPEG with its own quantisation: only the DCT blocks the
  // mustaches touch were decoded and coded again, every other block keeps
  // its coefficients. Taken for a JPEG input written as JPEG at quality 0
  // that is 8-bit YCbCr with EXIF orientation 1 (or none), when the
  // mustaches cover at most a quarter of the photo; otherwise kPixels.
  kJpegCoefficients,
};

// "pixels", "jpeg_coefficients": a metric label.
const char* OverlayPathName(OverlayPath path);

struct OverlayResult {
  std::string image;
  imaging::ImageFormat format = imaging::ImageFormat::kUnknown;
  int width_px = 0;
  int height_px = 0;
  // The style drawn on each face, in request order.
  std::vector<std::string> styles_applied;
  absl::Duration decode_duration;
  absl::Duration draw_duration;
  absl::Duration encode_duration;
  OverlayPath path = OverlayPath::kPixels;
};

struct StyleInfo {
  std::string name;
  std::string display_name;
  std::string description;
  // A small PNG with transparency.
  std::string preview_png;
};

// Immutable after Create, so Apply may run on any number of threads at once
// without locking.
class MustacheOverlay final {
 public:
  // Builds the styles and their previews. INVALID_ARGUMENT for a bad config
  // (an unknown default style, for example).
  static absl::StatusOr<std::unique_ptr<MustacheOverlay>> Create(
      const OverlayConfig& config);

  // INVALID_ARGUMENT for an undecodable image, more faces than
  // OverlayConfig::max_faces, a bad face (or its box outside the image), an
  // unknown style, an output format that is not JPEG, PNG or WebP, or a
  // quality above 100; RESOURCE_EXHAUSTED for an image over the pixel limit.
  // Zero faces give the image re-encoded unchanged. Stops with
  // DEADLINE_EXCEEDED or CANCELLED between stages (decode, each face, encode)
  // once `deadline` says so.
  absl::StatusOr<OverlayResult> Apply(const OverlayRequest& request,
                                      const server::CallDeadline& deadline = {}) const;

  // In the order of MakeBuiltInStyles.
  const std::vector<StyleInfo>& styles() const { return style_infos_; }

 private:
  MustacheOverlay(OverlayConfig config, std::vector<MustacheStyle> styles,
                  std::vector<StyleInfo> style_infos);

  // Resolves the request's style name to one style per face.
  absl::StatusOr<std::vector<const MustacheStyle*>> PickStyles(
      const OverlayRequest& request) const;

  imaging::DecodeLimits DecodeLimitsFor(imaging::ImageFormat output_format,
                                        const server::CallDeadline& deadline) const;

  // The two ways Apply works; see OverlayPath. The coefficient path returns
  // FAILED_PRECONDITION for a photo it cannot take, before or after reading
  // it, and Apply then takes the pixel path. Both take the header Apply read,
  // so that the photo's header is parsed once per call.
  absl::StatusOr<OverlayResult> ApplyToPixels(
      const OverlayRequest& request, const std::vector<const MustacheStyle*>& styles,
      const imaging::ImageHeader& header, OverlayResult result,
      const server::CallDeadline& deadline) const;
  absl::StatusOr<OverlayResult> ApplyToJpegCoefficients(
      const OverlayRequest& request, const std::vector<const MustacheStyle*>& styles,
      const imaging::ImageHeader& header, OverlayResult result,
      const server::CallDeadline& deadline) const;

  const OverlayConfig config_;
  const std::unique_ptr<imaging::DecodeMemoryBudget> decode_budget_;
  const std::vector<MustacheStyle> styles_;
  const std::vector<StyleInfo> style_infos_;
};

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_MUSTACHE_OVERLAY_H_
