#include "detector/internal/landmark_fitter.h"

#include <dlib/opencv/cv_image.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "detector/internal/model_files.h"
#include "detector/internal/object_pool.h"
#include "detector/internal/shape_model.h"

namespace stache::detector::internal {
namespace {

constexpr float kRadiansToDegrees = static_cast<float>(180.0 / M_PI);

// The average face, in a frame centred between the eyes, x along the eye
// line towards the viewer's right eye, y down the face, in units of the
// distance between the eye centres. Measured with the 68-point model on the
// test photos (detector_test.cc, AverageFaceMatchesTheShapePredictorOnThePhotos,
// keeps them honest).
struct AverageFace {
  float nose_base_y = 0.72f;
  float upper_lip_top_y = 0.92f;
  float mouth_corner_x = 0.45f;
  float mouth_corner_y = 0.95f;
  // The eye line relative to a dlib box of width w: its midpoint sits this
  // many w above the box centre, and the eyes are this many w apart.
  float eyes_above_centre = 0.26f;
  float eye_distance = 0.445f;
};
constexpr AverageFace kAverageFace;

// Maps a point of the eye frame to image pixels.
class EyeFrame final {
 public:
  EyeFrame(cv::Point2f origin, float scale, float roll_degrees)
      : origin_(origin),
        scale_(scale),
        cos_(std::cos(roll_degrees / kRadiansToDegrees)),
        sin_(std::sin(roll_degrees / kRadiansToDegrees)) {}

  cv::Point2f operator()(float x, float y) const {
    // Clockwise on screen (y down) is the usual rotation matrix.
    return origin_ + scale_ * cv::Point2f(x * cos_ - y * sin_, x * sin_ + y * cos_);
  }

 private:
  cv::Point2f origin_;
  float scale_;
  float cos_;
  float sin_;
};

FaceLandmarks LandmarksInFrame(const EyeFrame& frame) {
  const AverageFace& f = kAverageFace;
  return FaceLandmarks{.left_eye_center = frame(-0.5f, 0),
                       .right_eye_center = frame(0.5f, 0),
                       .nose_base = frame(0, f.nose_base_y),
                       .upper_lip_top = frame(0, f.upper_lip_top_y),
                       .mouth_left = frame(-f.mouth_corner_x, f.mouth_corner_y),
                       .mouth_right = frame(f.mouth_corner_x, f.mouth_corner_y)};
}

cv::Point2f Centre(const dlib::full_object_detection& shape, unsigned from, unsigned to) {
  cv::Point2f sum(0, 0);
  for (unsigned i = from; i <= to; ++i)
    sum += cv::Point2f(shape.part(i).x(), shape.part(i).y());
  return sum / static_cast<float>(to - from + 1);
}

cv::Point2f Part(const dlib::full_object_detection& shape, unsigned i) {
  return cv::Point2f(shape.part(i).x(), shape.part(i).y());
}

// The 68-point model (dlib's, evaluated by ShapeModel), loaded once and
// used read-only from any thread.
class ShapePredictorFitter final : public LandmarkFitter {
 public:
  explicit ShapePredictorFitter(ShapeModel predictor)
      : predictor_(std::move(predictor)) {}

  absl::StatusOr<FittedFace> Fit(const cv::Mat& bgr, const cv::Rect2f& box,
                                 float /*roll_hint_degrees*/) const override {
    try {
      // A first fit in the finder's box, on the full-resolution pixels as
      // they are (wrapped, not copied; the predictor reads only around the
      // box), then a second one in the box the detector would have drawn
      // for a face with those eyes: finder boxes come from a coarse pyramid
      // (and from rolled filters, or from a cascade), and the model fits best
      // in the boxes it was trained on.
      const FittedFace first = FromShape(Predict(bgr, box));
      const FaceLandmarks& l = first.landmarks;
      const cv::Rect2f refined = BoxFromEyes(l.left_eye_center, l.right_eye_center);
      if (std::abs(first.roll_degrees) <= kUprightDegrees) {
        return FromShape(Predict(bgr, refined));
      }
      return FitUpright(bgr, refined, first.roll_degrees);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("the landmark model failed: ", e.what()));
    }
  }

 private:
  // The model was trained on upright faces; rolled ones fit better turned
  // upright first.
  static constexpr float kUprightDegrees = 6;
  // Faces wider than this are fitted upright at this width: the turned copy
  // then costs the same for any photo size.
  static constexpr float kMaxUprightFacePx = 400;

  dlib::full_object_detection Predict(const cv::Mat& bgr, const cv::Rect2f& box) const {
    const dlib::cv_image<dlib::bgr_pixel> image(bgr);
    const dlib::rectangle rect(std::lround(box.x), std::lround(box.y),
                               std::lround(box.x + box.width) - 1,
                               std::lround(box.y + box.height) - 1);
    return predictor_(image, rect);
  }

  static FittedFace FromShape(const dlib::full_object_detection& shape) {
    // Points 36-41 outline the eye on the viewer's left, 42-47 the other;
    // 33 is the bottom of the nose, 51 the top of the upper lip, 48 and 54
    // the mouth corners.
    FittedFace fitted{.landmarks = {.left_eye_center = Centre(shape, 36, 41),
                                    .right_eye_center = Centre(shape, 42, 47),
                                    .nose_base = Part(shape, 33),
                                    .upper_lip_top = Part(shape, 51),
                                    .mouth_left = Part(shape, 48),
                                    .mouth_right = Part(shape, 54)},
                      .source = LandmarkSource::kShapePredictor68};
    for (unsigned i = 0; i < shape.num_parts(); ++i)
      fitted.shape.push_back(Part(shape, i));
    fitted.roll_degrees =
        RollFromEyes(fitted.landmarks.left_eye_center, fitted.landmarks.right_eye_center);
    return fitted;
  }

  // Fits in a copy of the region around `face` (an upright box at the
  // face's position) turned by `roll_degrees`, and maps the points back.
  FittedFace FitUpright(const cv::Mat& bgr, const cv::Rect2f& face,
                        float roll_degrees) const {
    const float scale = std::min(1.f, kMaxUprightFacePx / face.width);
    const int side = static_cast<int>(std::ceil(2 * face.width * scale));
    const cv::Point2f centre(face.x + face.width / 2, face.y + face.height / 2);
    // OpenCV's positive angle turns counter-clockwise, undoing a clockwise roll.
    cv::Mat forward = cv::getRotationMatrix2D(centre, roll_degrees, scale);
    forward.at<double>(0, 2) += side / 2.0 - centre.x;
    forward.at<double>(1, 2) += side / 2.0 - centre.y;
    cv::Mat upright;
    cv::warpAffine(bgr, upright, forward, cv::Size(side, side), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    const float upright_width = face.width * scale;
    const FittedFace fitted = FromShape(Predict(
        upright, cv::Rect2f((side - upright_width) / 2, (side - upright_width) / 2,
                            upright_width, upright_width)));
    cv::Mat back;
    cv::invertAffineTransform(forward, back);
    const FaceLandmarks& u = fitted.landmarks;
    std::vector<cv::Point2f> points = {u.left_eye_center, u.right_eye_center,
                                       u.nose_base,       u.upper_lip_top,
                                       u.mouth_left,      u.mouth_right};
    cv::transform(points, points, back);
    std::vector<cv::Point2f> shape = fitted.shape;
    if (!shape.empty()) cv::transform(shape, shape, back);
    return FittedFace{.landmarks = {.left_eye_center = points[0],
                                    .right_eye_center = points[1],
                                    .nose_base = points[2],
                                    .upper_lip_top = points[3],
                                    .mouth_left = points[4],
                                    .mouth_right = points[5]},
                      .shape = std::move(shape),
                      .roll_degrees = RollFromEyes(points[0], points[1]),
                      .source = LandmarkSource::kShapePredictor68};
  }

  const ShapeModel predictor_;
};

// Face box geometry; with an eye cascade, the eyes where it finds a
// plausible pair, which also gives the roll.
class GeometryFitter final : public LandmarkFitter {
 public:
  explicit GeometryFitter(std::string eye_cascade_xml)
      : eye_cascade_xml_(std::move(eye_cascade_xml)),
        eye_pool_([this] { return CascadeFromXml(eye_cascade_xml_); }) {}

  absl::StatusOr<FittedFace> Fit(const cv::Mat& bgr, const cv::Rect2f& box,
                                 float roll_hint_degrees) const override {
    std::optional<std::pair<cv::Point2f, cv::Point2f>> eyes;
    if (!eye_cascade_xml_.empty()) {
      try {
        eyes = FindEyes(bgr, box);
      } catch (const cv::Exception& e) {
        return absl::InternalError(absl::StrCat("the eye cascade failed: ", e.what()));
      }
    }
    if (!eyes.has_value()) {
      return FittedFace{.landmarks = LandmarksFromBox(box, roll_hint_degrees),
                        .roll_degrees = roll_hint_degrees};
    }
    return FittedFace{.landmarks = LandmarksFromEyes(eyes->first, eyes->second),
                      .roll_degrees = RollFromEyes(eyes->first, eyes->second)};
  }

 private:
  // Eyes are searched in the upper part of the face at a fixed size, so the
  // cost does not depend on the photo's resolution.
  static constexpr float kSearchWidthPx = 160;

  std::optional<std::pair<cv::Point2f, cv::Point2f>> FindEyes(
      const cv::Mat& bgr, const cv::Rect2f& box) const {
    const cv::Rect2f upper(box.x, box.y + 0.05f * box.height, box.width,
                           0.55f * box.height);
    const cv::Rect region = cv::Rect(upper) & cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (region.width < 8 || region.height < 8) return std::nullopt;
    const double scale = kSearchWidthPx / box.width;
    cv::Mat grey;
    cv::resize(bgr(region), grey, cv::Size(), scale, scale,
               scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor(grey, grey, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(grey, grey);
    std::vector<cv::Rect> found;
    {
      auto cascade = eye_pool_.Acquire();
      const int min_eye = std::lround(0.1f * kSearchWidthPx);
      const int max_eye = std::lround(0.35f * kSearchWidthPx);
      cascade->detectMultiScale(grey, found, 1.1, 3, 0, cv::Size(min_eye, min_eye),
                                cv::Size(max_eye, max_eye));
    }
    // The best pair: one eye on each side, about the expected distance
    // apart, rolled less than about 30 degrees, of similar size.
    const float expected = kAverageFace.eye_distance * kSearchWidthPx;
    std::optional<std::pair<cv::Point2f, cv::Point2f>> best;
    float best_cost = 0;
    for (const cv::Rect& a : found) {
      for (const cv::Rect& b : found) {
        const cv::Point2f ca(a.x + a.width / 2.f, a.y + a.height / 2.f);
        const cv::Point2f cb(b.x + b.width / 2.f, b.y + b.height / 2.f);
        const float dx = cb.x - ca.x, dy = cb.y - ca.y;
        if (dx < 0.6f * expected || dx > 1.5f * expected) continue;
        if (std::abs(dy) > 0.6f * dx) continue;
        const float size_ratio = static_cast<float>(std::max(a.width, b.width)) /
                                 static_cast<float>(std::min(a.width, b.width));
        if (size_ratio > 1.6f) continue;
        const float cost =
            std::abs(dx - expected) + std::abs((ca.x + cb.x) / 2 - kSearchWidthPx / 2);
        if (!best.has_value() || cost < best_cost) {
          best = std::make_pair(ca, cb);
          best_cost = cost;
        }
      }
    }
    if (!best.has_value()) return std::nullopt;
    auto to_image = [&](const cv::Point2f& p) {
      return cv::Point2f(region.x, region.y) + p / static_cast<float>(scale);
    };
    return std::make_pair(to_image(best->first), to_image(best->second));
  }

  const std::string eye_cascade_xml_;
  mutable ObjectPool<cv::CascadeClassifier> eye_pool_;
};

}  // namespace

float RollFromEyes(const cv::Point2f& left_eye, const cv::Point2f& right_eye) {
  // y grows downwards, so a right eye lower than the left is a positive
  // (clockwise) angle.
  return std::atan2(right_eye.y - left_eye.y, right_eye.x - left_eye.x) *
         kRadiansToDegrees;
}

FaceLandmarks LandmarksFromBox(const cv::Rect2f& box, float roll_degrees) {
  const float w = box.width;
  const cv::Point2f centre(box.x + box.width / 2, box.y + box.height / 2);
  // The eye midpoint sits above the centre along the rolled face's axis.
  const EyeFrame box_frame(centre, w, roll_degrees);
  const cv::Point2f eye_mid = box_frame(0, -kAverageFace.eyes_above_centre);
  return LandmarksInFrame(EyeFrame(eye_mid, kAverageFace.eye_distance * w, roll_degrees));
}

cv::Rect2f BoxFromEyes(const cv::Point2f& left_eye, const cv::Point2f& right_eye) {
  const cv::Point2f delta = right_eye - left_eye;
  const float width = std::hypot(delta.x, delta.y) / kAverageFace.eye_distance;
  const EyeFrame frame((left_eye + right_eye) / 2, width,
                       RollFromEyes(left_eye, right_eye));
  const cv::Point2f centre = frame(0, kAverageFace.eyes_above_centre);
  return cv::Rect2f(centre.x - width / 2, centre.y - width / 2, width, width);
}

FaceLandmarks LandmarksFromEyes(const cv::Point2f& left_eye,
                                const cv::Point2f& right_eye) {
  const cv::Point2f delta = right_eye - left_eye;
  const float distance = std::hypot(delta.x, delta.y);
  return LandmarksInFrame(
      EyeFrame((left_eye + right_eye) / 2, distance, RollFromEyes(left_eye, right_eye)));
}

absl::StatusOr<std::unique_ptr<LandmarkFitter>> MakeShapePredictorFitter(
    const std::string& model_path) {
  absl::StatusOr<ShapeModel> predictor = ShapeModel::Load(model_path);
  if (!predictor.ok()) return predictor.status();
  if (predictor->num_parts() != 68) {
    return absl::InvalidArgumentError(
        absl::StrCat("the landmark model ", model_path, " has ", predictor->num_parts(),
                     " points; the 68-point model is needed"));
  }
  return std::make_unique<ShapePredictorFitter>(*std::move(predictor));
}

absl::StatusOr<std::unique_ptr<LandmarkFitter>> MakeGeometryFitter(
    const std::string& eye_cascade_path) {
  std::string xml;
  if (!eye_cascade_path.empty()) {
    absl::StatusOr<std::string> read = ReadCascadeFile(eye_cascade_path, "eye cascade");
    if (!read.ok()) return read.status();
    xml = *std::move(read);
  }
  return std::make_unique<GeometryFitter>(std::move(xml));
}

}  // namespace stache::detector::internal
