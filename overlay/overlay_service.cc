#include "overlay/overlay_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/call_handler.h"
#include "server/error_reason.h"
#include "server/status_macros.h"

namespace stache::overlay {
namespace {

using imaging::ImageFormat;

absl::StatusOr<std::optional<ImageFormat>> FromProto(v1::ImageFormat format) {
  switch (format) {
    case v1::IMAGE_FORMAT_UNSPECIFIED:
      return std::nullopt;
    case v1::IMAGE_FORMAT_JPEG:
      return ImageFormat::kJpeg;
    case v1::IMAGE_FORMAT_PNG:
      return ImageFormat::kPng;
    case v1::IMAGE_FORMAT_WEBP:
      return ImageFormat::kWebp;
    default:
      // A newer client's value: refused, never read as UNSPECIFIED.
      return server::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                    "output_format ", static_cast<int>(format),
                                    " is not supported: use IMAGE_FORMAT_JPEG, "
                                    "IMAGE_FORMAT_PNG, IMAGE_FORMAT_WEBP or "
                                    "IMAGE_FORMAT_UNSPECIFIED")),
                                server::kReasonUnknownEnumValue);
  }
}

v1::ImageFormat ToProto(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return v1::IMAGE_FORMAT_JPEG;
    case ImageFormat::kPng:
      return v1::IMAGE_FORMAT_PNG;
    case ImageFormat::kWebp:
      return v1::IMAGE_FORMAT_WEBP;
    default:
      return v1::IMAGE_FORMAT_UNSPECIFIED;
  }
}

cv::Point2d FromProto(const detector::v1::Point& point) {
  return {point.x_px(), point.y_px()};
}

absl::StatusOr<Face> FromProto(const detector::v1::Face& face, int index) {
  if (!face.has_landmarks()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "faces[", index,
        "] has no landmarks: pass the faces as DetectorService.Detect returns them"));
  }
  const detector::v1::FaceLandmarks& l = face.landmarks();
  Face core{.landmarks = {.left_eye_center = FromProto(l.left_eye_center()),
                          .right_eye_center = FromProto(l.right_eye_center()),
                          .nose_base = FromProto(l.nose_base()),
                          .upper_lip_top = FromProto(l.upper_lip_top()),
                          .mouth_left = FromProto(l.mouth_left()),
                          .mouth_right = FromProto(l.mouth_right())},
            .roll_degrees = face.roll_degrees()};
  if (face.has_bounding_box()) {
    const detector::v1::Box& box = face.bounding_box();
    core.box = cv::Rect2d(box.x_px(), box.y_px(), box.width_px(), box.height_px());
  }
  return core;
}

// An sRGB colour as OpenCV's BGR.
absl::StatusOr<cv::Scalar> FromProto(const type::v1::Color& color) {
  if (color.red() > 255 || color.green() > 255 || color.blue() > 255) {
    return server::WithReason(
        absl::InvalidArgumentError(absl::StrCat("color (", color.red(), ", ",
                                                color.green(), ", ", color.blue(),
                                                ") is out of range: each channel "
                                                "is 0..255")),
        server::kReasonOptionOutOfRange);
  }
  return cv::Scalar(color.blue(), color.green(), color.red());
}

absl::StatusOr<OverlayRequest> FromProto(const v1::ApplyRequest& request) {
  OverlayRequest core{.image = request.image(),
                      .style = request.style(),
                      .quality = request.quality(),
                      .random_seed = request.random_seed(),
                      // 0 (unset, and every client before 0.2.0) is the natural size.
                      .scale = request.scale() == 0 ? 1.0 : request.scale()};
  if (request.has_color()) {
    STACHE_ASSIGN_OR_RETURN(core.colour_bgr, FromProto(request.color()));
  }
  STACHE_ASSIGN_OR_RETURN(core.output_format, FromProto(request.output_format()));
  core.faces.reserve(request.faces_size());
  for (int i = 0; i < request.faces_size(); ++i) {
    STACHE_ASSIGN_OR_RETURN(Face face, FromProto(request.faces(i), i));
    core.faces.push_back(face);
  }
  return core;
}

}  // namespace

grpc::Status OverlayServiceImpl::Apply(grpc::ServerContext* context,
                                       const v1::ApplyRequest* request,
                                       v1::ApplyResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    STACHE_ASSIGN_OR_RETURN(OverlayRequest core_request, FromProto(*request));
    STACHE_ASSIGN_OR_RETURN(OverlayResult result,
                            overlay_.Apply(core_request, server::DeadlineOf(*context)));
    if (applied_ != nullptr) applied_->Increment({OverlayPathName(result.path)});
    response->set_image(std::move(result.image));
    response->set_format(ToProto(result.format));
    response->set_content_type(imaging::ImageFormatMimeType(result.format));
    response->set_width_px(result.width_px);
    response->set_height_px(result.height_px);
    for (std::string& style : result.styles_applied) {
      response->add_styles_applied(std::move(style));
    }
    response->set_decode_duration_ms(absl::ToDoubleMilliseconds(result.decode_duration));
    response->set_draw_duration_ms(absl::ToDoubleMilliseconds(result.draw_duration));
    response->set_encode_duration_ms(absl::ToDoubleMilliseconds(result.encode_duration));
    return absl::OkStatus();
  });
}

grpc::Status OverlayServiceImpl::ListStyles(grpc::ServerContext* context,
                                            const v1::ListStylesRequest*,
                                            v1::ListStylesResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    for (const StyleInfo& info : overlay_.styles()) {
      v1::Style* style = response->add_styles();
      style->set_name(info.name);
      style->set_display_name(info.display_name);
      style->set_description(info.description);
      style->set_preview_png(info.preview_png);
    }
    return absl::OkStatus();
  });
}

}  // namespace stache::overlay
