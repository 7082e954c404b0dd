#include "overlay/mustache_overlay.h"

#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/error_reason.h"
#include "server/status_macros.h"

namespace stache::overlay {
namespace {

using imaging::ImageFormat;

// Big enough to recognise a style in a picker, small enough to send them
// all in one ListStyles answer without thought.
const cv::Size kPreviewSize(160, 96);

bool IsWritableFormat(ImageFormat format) {
  return format == ImageFormat::kJpeg || format == ImageFormat::kPng ||
         format == ImageFormat::kWebp;
}

absl::Duration Since(absl::Time start) { return absl::Now() - start; }

absl::Status UnknownStyleError(absl::string_view what,
                               const std::vector<MustacheStyle>& styles,
                               absl::string_view name) {
  std::vector<std::string> names;
  for (const MustacheStyle& style : styles) names.push_back(style.name);
  return server::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                what, "unknown style \"", name, "\"; use one of ",
                                absl::StrJoin(names, ", "), " or ", kRandomStyle)),
                            server::kReasonUnknownStyle);
}

}  // namespace

absl::Status ValidateOverlayConfig(const OverlayConfig& config) {
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  if (config.default_style != kRandomStyle &&
      FindStyle(styles, config.default_style) == nullptr) {
    return UnknownStyleError("--default_style: ", styles, config.default_style);
  }
  if (config.max_pixels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_pixels must be positive, not ", config.max_pixels));
  }
  if (config.max_decoded_bytes < 1 || config.decode_memory_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_decoded_bytes and --decode_memory_bytes must be positive, not ",
        config.max_decoded_bytes, " and ", config.decode_memory_bytes));
  }
  if (config.default_quality < 1 || config.default_quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--default_quality must be in 1..100, not ", config.default_quality));
  }
  if (config.max_faces < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_faces must be positive, not ", config.max_faces));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MustacheOverlay>> MustacheOverlay::Create(
    const OverlayConfig& config) {
  STACHE_RETURN_IF_ERROR(ValidateOverlayConfig(config));
  std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  std::vector<StyleInfo> infos;
  for (const MustacheStyle& style : styles) {
    STACHE_ASSIGN_OR_RETURN(cv::Mat preview, RenderStylePreview(style, kPreviewSize));
    STACHE_ASSIGN_OR_RETURN(std::string png,
                            imaging::EncodeImage(preview, ImageFormat::kPng, 100));
    infos.push_back({.name = style.name,
                     .display_name = style.display_name,
                     .description = style.description,
                     .preview_png = std::move(png)});
  }
  return std::unique_ptr<MustacheOverlay>(
      new MustacheOverlay(config, std::move(styles), std::move(infos)));
}

MustacheOverlay::MustacheOverlay(OverlayConfig config, std::vector<MustacheStyle> styles,
                                 std::vector<StyleInfo> style_infos)
    : config_(std::move(config)),
      decode_budget_(
          std::make_unique<imaging::DecodeMemoryBudget>(config_.decode_memory_bytes)),
      styles_(std::move(styles)),
      style_infos_(std::move(style_infos)) {}

absl::StatusOr<std::vector<const MustacheStyle*>> MustacheOverlay::PickStyles(
    const OverlayRequest& request) const {
  const std::string& name = request.style.empty() ? config_.default_style : request.style;
  std::vector<const MustacheStyle*> picked;
  if (name == kRandomStyle) {
    // The same seed gives the same styles, so results can be reproduced.
    std::mt19937_64 rng(request.random_seed != 0 ? request.random_seed
                                                 : std::random_device()());
    for (size_t i = 0; i < request.faces.size(); ++i) {
      picked.push_back(&styles_[rng() % styles_.size()]);
    }
    return picked;
  }
  const MustacheStyle* style = FindStyle(styles_, name);
  if (style == nullptr) {
    return UnknownStyleError("", styles_, name);
  }
  picked.assign(request.faces.size(), style);
  return picked;
}

absl::StatusOr<OverlayResult> MustacheOverlay::Apply(
    const OverlayRequest& request, const server::CallDeadline& deadline) const {
  // Everything that can be checked without pixels is checked first, so a bad
  // request costs no decode.
  if (request.faces.size() > static_cast<size_t>(config_.max_faces)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request names ", request.faces.size(), " faces; at most ",
                     config_.max_faces, " faces per image are drawn"));
  }
  if (request.quality > 100) {
    return server::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                  "quality ", request.quality,
                                  " is out of range: use 1..100, or 0 for the "
                                  "default (",
                                  config_.default_quality, ")")),
                              server::kReasonOptionOutOfRange);
  }
  if (!(request.scale >= kMinScale && request.scale <= kMaxScale)) {
    return server::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                  "scale ", request.scale, " is out of range: use ",
                                  kMinScale, "..", kMaxScale, ", or 0 for 1")),
                              server::kReasonOptionOutOfRange);
  }
  if (request.output_format.has_value() && !IsWritableFormat(*request.output_format)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", imaging::ImageFormatName(*request.output_format),
                     " images: choose JPEG, PNG or WebP"));
  }
  STACHE_ASSIGN_OR_RETURN(std::vector<const MustacheStyle*> styles, PickStyles(request));

  OverlayResult result;
  const absl::Time decode_start = absl::Now();
  STACHE_ASSIGN_OR_RETURN(imaging::ImageHeader header,
                          imaging::ReadImageHeader(request.image));
  result.format = request.output_format.value_or(
      IsWritableFormat(header.format) ? header.format : ImageFormat::kJpeg);
  // Transparency survives in formats that can carry it.
  STACHE_RETURN_IF_ERROR(deadline.Check("decoding"));
  STACHE_ASSIGN_OR_RETURN(
      imaging::DecodedImage decoded,
      imaging::DecodeImage(request.image,
                           {.max_pixels = config_.max_pixels,
                            .max_decoded_bytes = config_.max_decoded_bytes,
                            .budget = decode_budget_.get(),
                            .keep_alpha = result.format != ImageFormat::kJpeg,
                            .deadline = deadline.deadline,
                            .cancelled = deadline.cancelled}));
  cv::Mat& pixels = decoded.pixels;
  result.decode_duration = Since(decode_start);

  const absl::Time draw_start = absl::Now();
  STACHE_RETURN_IF_ERROR(deadline.Check("drawing"));
  // Every face is checked before the first is drawn.
  std::vector<MustachePlacement> placements;
  placements.reserve(request.faces.size());
  for (size_t i = 0; i < request.faces.size(); ++i) {
    if (const std::optional<cv::Rect2d>& box = request.faces[i].box; box.has_value()) {
      // A pixel of slack for rounding in the detector's float boxes.
      const cv::Rect2d slack(-1, -1, pixels.cols + 2, pixels.rows + 2);
      if (!std::isfinite(box->x) || !std::isfinite(box->y) ||
          !std::isfinite(box->width) || !std::isfinite(box->height)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("faces[%d].bounding_box is not made of finite numbers", i));
      }
      if (box->width < 0 || box->height < 0 || (*box & slack) != *box) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "faces[%d].bounding_box (x %g, y %g, %g x %g) is not inside the %d x %d "
            "image",
            i, box->x, box->y, box->width, box->height, pixels.cols, pixels.rows));
      }
    }
    absl::StatusOr<MustachePlacement> placement =
        PlaceMustache(request.faces[i], pixels.size());
    if (!placement.ok()) {
      return absl::Status(placement.status().code(),
                          absl::StrCat("faces[", i, "]: ", placement.status().message()));
    }
    placements.push_back(*placement);
  }
  for (size_t i = 0; i < placements.size(); ++i) {
    STACHE_RETURN_IF_ERROR(deadline.Check(absl::StrCat("drawing faces[", i, "]")));
    placements[i].width_scale_px *= request.scale;
    placements[i].height_scale_px *= request.scale;
    STACHE_RETURN_IF_ERROR(DrawMustache(placements[i],
                                        request.colour_bgr.has_value()
                                            ? Recoloured(*styles[i], *request.colour_bgr)
                                            : *styles[i],
                                        pixels));
    result.styles_applied.push_back(styles[i]->name);
  }
  result.draw_duration = Since(draw_start);

  STACHE_RETURN_IF_ERROR(deadline.Check("encoding"));
  const absl::Time encode_start = absl::Now();
  STACHE_ASSIGN_OR_RETURN(
      result.image,
      imaging::EncodeImage(pixels, result.format,
                           request.quality != 0 ? static_cast<int>(request.quality)
                                                : config_.default_quality));
  result.encode_duration = Since(encode_start);
  result.width_px = pixels.cols;
  result.height_px = pixels.rows;
  return result;
}

}  // namespace stache::overlay
