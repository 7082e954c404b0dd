#include "detector/detector_service.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_format.h"
#include "server/call_handler.h"
#include "server/error_reason.h"
#include "server/status_macros.h"

namespace stache::detector {
namespace {

namespace v1 = ::stache::detector::v1;

void ToProto(const cv::Point2f& point, v1::Point* proto) {
  proto->set_x_px(point.x);
  proto->set_y_px(point.y);
}

v1::LandmarkSource ToProto(LandmarkSource source) {
  switch (source) {
    case LandmarkSource::kCascadeGeometry:
      return v1::LANDMARK_SOURCE_CASCADE_GEOMETRY;
    case LandmarkSource::kShapePredictor68:
      return v1::LANDMARK_SOURCE_SHAPE_PREDICTOR_68;
  }
  return v1::LANDMARK_SOURCE_UNSPECIFIED;
}

// All the points of the shape model, for clients that asked (0.2.0).
void ToProto(const std::vector<cv::Point2f>& shape, type::v1::FaceShape* proto) {
  proto->set_scheme(type::v1::FACE_SHAPE_SCHEME_IBUG_68);
  for (const cv::Point2f& point : shape) {
    type::v1::Point* out = proto->add_points();
    out->set_x_px(point.x);
    out->set_y_px(point.y);
  }
}

void ToProto(const Face& face, bool include_shape, v1::Face* proto) {
  v1::Box* box = proto->mutable_bounding_box();
  box->set_x_px(face.box.x);
  box->set_y_px(face.box.y);
  box->set_width_px(face.box.width);
  box->set_height_px(face.box.height);
  proto->set_confidence(face.confidence);
  proto->set_roll_degrees(face.roll_degrees);
  v1::FaceLandmarks* landmarks = proto->mutable_landmarks();
  ToProto(face.landmarks.left_eye_center, landmarks->mutable_left_eye_center());
  ToProto(face.landmarks.right_eye_center, landmarks->mutable_right_eye_center());
  ToProto(face.landmarks.nose_base, landmarks->mutable_nose_base());
  ToProto(face.landmarks.upper_lip_top, landmarks->mutable_upper_lip_top());
  ToProto(face.landmarks.mouth_left, landmarks->mutable_mouth_left());
  ToProto(face.landmarks.mouth_right, landmarks->mutable_mouth_right());
  proto->set_landmark_source(ToProto(face.landmark_source));
  if (include_shape && face.shape.size() == 68)
    ToProto(face.shape, proto->mutable_shape());
}

// uint32 fields above INT_MAX mean "as many as there are" / "larger than
// any image", so clamping keeps their meaning.
int ClampToInt(uint32_t value) {
  return static_cast<int>(std::min<uint32_t>(value, std::numeric_limits<int>::max()));
}

}  // namespace

grpc::Status DetectorServiceImpl::Detect(grpc::ServerContext* context,
                                         const v1::DetectRequest* request,
                                         v1::DetectResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    if (static_cast<int64_t>(request->image().size()) > max_image_bytes_) {
      return server::WithReason(
          absl::ResourceExhaustedError(absl::StrFormat(
              "the image is %d bytes; this server accepts at most %d bytes",
              request->image().size(), max_image_bytes_)),
          server::kReasonImageTooLarge);
    }
    const v1::DetectOptions& options = request->options();
    STACHE_ASSIGN_OR_RETURN(
        Detection detection,
        detector_.DetectEncoded(
            request->image(),
            DetectOptions{.max_faces = ClampToInt(options.max_faces()),
                          .min_face_size_px = ClampToInt(options.min_face_size_px()),
                          .min_confidence = options.min_confidence()},
            server::DeadlineOf(*context)));
    response->set_image_width_px(detection.image_size.width);
    response->set_image_height_px(detection.image_size.height);
    for (const Face& face : detection.faces) {
      ToProto(face, options.include_face_shape(), response->add_faces());
    }
    if (faces_detected_ != nullptr) {
      faces_detected_->Increment({}, static_cast<double>(detection.faces.size()));
    }
    response->set_decode_duration_ms(detection.decode_duration_ms);
    response->set_detect_duration_ms(detection.detect_duration_ms);
    return absl::OkStatus();
  });
}

}  // namespace stache::detector
