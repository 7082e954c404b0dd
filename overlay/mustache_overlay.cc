#include "overlay/mustache_overlay.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "imaging/image_encoder.h"
#include "imaging/jpeg_coefficient_editor.h"
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

// Checks every face against the image before any is drawn, and places
// each mustache at the request's scale.
absl::StatusOr<std::vector<MustachePlacement>> PlaceAll(const OverlayRequest& request,
                                                        cv::Size size) {
  std::vector<MustachePlacement> placements;
  placements.reserve(request.faces.size());
  for (size_t i = 0; i < request.faces.size(); ++i) {
    if (const std::optional<cv::Rect2d>& box = request.faces[i].box; box.has_value()) {
      // A pixel of slack for rounding in the detector's float boxes.
      const cv::Rect2d slack(-1, -1, size.width + 2, size.height + 2);
      if (!std::isfinite(box->x) || !std::isfinite(box->y) ||
          !std::isfinite(box->width) || !std::isfinite(box->height)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("faces[%d].bounding_box is not made of finite numbers", i));
      }
      if (box->width < 0 || box->height < 0 || (*box & slack) != *box) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "faces[%d].bounding_box (x %g, y %g, %g x %g) is not inside the %d x %d "
            "image",
            i, box->x, box->y, box->width, box->height, size.width, size.height));
      }
    }
    absl::StatusOr<MustachePlacement> placement = PlaceMustache(request.faces[i], size);
    if (!placement.ok()) {
      return absl::Status(placement.status().code(),
                          absl::StrCat("faces[", i, "]: ", placement.status().message()));
    }
    placement->width_scale_px *= request.scale;
    placement->height_scale_px *= request.scale;
    placements.push_back(*placement);
  }
  return placements;
}

MustacheStyle StyleFor(const OverlayRequest& request, const MustacheStyle& style) {
  return request.colour_bgr.has_value() ? Recoloured(style, *request.colour_bgr) : style;
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

const char* OverlayPathName(OverlayPath path) {
  switch (path) {
    case OverlayPath::kPixels:
      return "pixels";
    case OverlayPath::kJpegCoefficients:
      return "jpeg_coefficients";
  }
  return "unknown";
}

imaging::DecodeLimits MustacheOverlay::DecodeLimitsFor(
    ImageFormat output_format, const server::CallDeadline& deadline) const {
  return {.max_pixels = config_.max_pixels,
          .max_decoded_bytes = config_.max_decoded_bytes,
          .budget = decode_budget_.get(),
          // Transparency survives in formats that can carry it.
          .keep_alpha = output_format != ImageFormat::kJpeg,
          .deadline = deadline.deadline,
          .cancelled = deadline.cancelled};
}

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
  STACHE_ASSIGN_OR_RETURN(imaging::ImageHeader header,
                          imaging::ReadImageHeader(request.image));
  result.format = request.output_format.value_or(
      IsWritableFormat(header.format) ? header.format : ImageFormat::kJpeg);
  if (config_.edit_jpeg_coefficients && header.format == ImageFormat::kJpeg &&
      result.format == ImageFormat::kJpeg && request.quality == 0) {
    absl::StatusOr<OverlayResult> edited =
        ApplyToJpegCoefficients(request, styles, header, result, deadline);
    if (edited.status().code() != absl::StatusCode::kFailedPrecondition) return edited;
  }
  return ApplyToPixels(request, styles, header, std::move(result), deadline);
}

absl::StatusOr<OverlayResult> MustacheOverlay::ApplyToPixels(
    const OverlayRequest& request, const std::vector<const MustacheStyle*>& styles,
    const imaging::ImageHeader& header, OverlayResult result,
    const server::CallDeadline& deadline) const {
  const absl::Time decode_start = absl::Now();
  STACHE_RETURN_IF_ERROR(deadline.Check("decoding"));
  STACHE_ASSIGN_OR_RETURN(imaging::DecodedImage decoded,
                          imaging::DecodeImage(request.image, header,
                                               DecodeLimitsFor(result.format, deadline)));
  cv::Mat& pixels = decoded.pixels;
  result.decode_duration = Since(decode_start);

  const absl::Time draw_start = absl::Now();
  STACHE_RETURN_IF_ERROR(deadline.Check("drawing"));
  STACHE_ASSIGN_OR_RETURN(std::vector<MustachePlacement> placements,
                          PlaceAll(request, pixels.size()));
  for (size_t i = 0; i < placements.size(); ++i) {
    STACHE_RETURN_IF_ERROR(deadline.Check(absl::StrCat("drawing faces[", i, "]")));
    STACHE_RETURN_IF_ERROR(
        DrawMustache(placements[i], StyleFor(request, *styles[i]), pixels));
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
  result.path = OverlayPath::kPixels;
  return result;
}

absl::StatusOr<OverlayResult> MustacheOverlay::ApplyToJpegCoefficients(
    const OverlayRequest& request, const std::vector<const MustacheStyle*>& styles,
    const imaging::ImageHeader& header, OverlayResult result,
    const server::CallDeadline& deadline) const {
  STACHE_RETURN_IF_ERROR(deadline.Check("decoding"));
  // The faces refer to the photo as a viewer sees it, which is how the
  // editor turns it: orientations 5-8 swap width and height.
  cv::Size size(static_cast<int>(header.width), static_cast<int>(header.height));
  if (header.orientation >= 5) std::swap(size.width, size.height);
  // A bad face is refused by the pixel path, after the checks of the image
  // that come first there.
  absl::StatusOr<std::vector<MustachePlacement>> placed = PlaceAll(request, size);
  if (!placed.ok()) return absl::FailedPreconditionError("a face is refused");
  const std::vector<MustachePlacement>& placements = *placed;
  // Each mustache's region: every pixel DrawMustache may change (its bounds
  // and a pixel of slack), in whole MCUs of up to 16 pixels.
  std::vector<cv::Rect> areas;
  int64_t largest = 0, total = 0;
  for (size_t i = 0; i < placements.size(); ++i) {
    const cv::Rect2f bounds =
        MustacheBounds(placements[i], StyleFor(request, *styles[i])).boundingRect2f();
    const cv::Rect area =
        cv::Rect(cv::Point(static_cast<int>(std::floor(bounds.x)) - 2,
                           static_cast<int>(std::floor(bounds.y)) - 2),
                 cv::Point(static_cast<int>(std::ceil(bounds.br().x)) + 3,
                           static_cast<int>(std::ceil(bounds.br().y)) + 3)) &
        cv::Rect(cv::Point(), size);
    areas.push_back(area);
    // MCUs of up to 16 x 16 pixels, and one more around for upsampling.
    auto span = [](int length) { return ((length + 15) / 16 + 1) * 16 + 32; };
    const int64_t padded = int64_t{span(area.width)} * span(area.height);
    largest = std::max(largest, padded);
    total += padded;
  }
  // Past this, decoding the whole photo costs less than the blocks.
  if (total > int64_t{size.width} * size.height / 4) {
    return absl::FailedPreconditionError("the mustaches cover much of the photo");
  }

  const absl::Time decode_start = absl::Now();
  STACHE_ASSIGN_OR_RETURN(
      imaging::JpegCoefficientEditor editor,
      imaging::JpegCoefficientEditor::Open(
          request.image, header, DecodeLimitsFor(ImageFormat::kJpeg, deadline), largest));
  result.decode_duration = Since(decode_start);

  const absl::Time draw_start = absl::Now();
  STACHE_RETURN_IF_ERROR(deadline.Check("drawing"));
  for (size_t i = 0; i < placements.size(); ++i) {
    STACHE_RETURN_IF_ERROR(deadline.Check(absl::StrCat("drawing faces[", i, "]")));
    const MustacheStyle& style = StyleFor(request, *styles[i]);
    STACHE_RETURN_IF_ERROR(editor
                               .Edit(areas[i],
                                     [&](cv::Mat& bgr, cv::Point origin) {
                                       MustachePlacement local = placements[i];
                                       local.anchor -= cv::Point2d(origin);
                                       return DrawMustache(local, style, bgr);
                                     })
                               .status());
    result.styles_applied.push_back(styles[i]->name);
  }
  result.draw_duration = Since(draw_start);

  STACHE_RETURN_IF_ERROR(deadline.Check("encoding"));
  const absl::Time encode_start = absl::Now();
  STACHE_ASSIGN_OR_RETURN(result.image, editor.Encode());
  result.encode_duration = Since(encode_start);
  result.width_px = size.width;
  result.height_px = size.height;
  result.path = OverlayPath::kJpegCoefficients;
  return result;
}

}  // namespace stache::overlay
