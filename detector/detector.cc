#include "detector/detector.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "detector/internal/face_finder.h"
#include "detector/internal/landmark_fitter.h"
#include "imaging/image_decoder.h"

namespace stache::detector {
namespace {

using internal::FaceCandidate;

// Never enlarge the photo more than this for small faces: beyond it the
// pixels hold no more detail, only more cost.
constexpr double kMaxUpscale = 2.0;

constexpr int kWarmUpSizePx = 96;

absl::Status ValidateOptions(const DetectOptions& options) {
  if (options.max_faces < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_faces must not be negative (got ", options.max_faces, ")"));
  }
  if (options.min_face_size_px < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_face_size_px must not be negative (got ", options.min_face_size_px, ")"));
  }
  if (!(options.min_confidence >= 0 && options.min_confidence <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_confidence must be between 0 and 1 (got ", options.min_confidence, ")"));
  }
  return absl::OkStatus();
}

DetectOptions WithDefaults(const DetectOptions& options, const DetectOptions& defaults) {
  return DetectOptions{
      .max_faces = options.max_faces > 0 ? options.max_faces : defaults.max_faces,
      .min_face_size_px = options.min_face_size_px > 0 ? options.min_face_size_px
                                                       : defaults.min_face_size_px,
      .min_confidence =
          options.min_confidence > 0 ? options.min_confidence : defaults.min_confidence};
}

absl::StatusOr<cv::Mat> AsBgr(const cv::Mat& image) {
  if (image.empty()) return absl::InvalidArgumentError("the image is empty (no pixels)");
  if (image.depth() != CV_8U) {
    return absl::InvalidArgumentError("the image must have 8-bit channels");
  }
  cv::Mat bgr;
  switch (image.channels()) {
    case 3:
      return image;
    case 1:
      cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
      return bgr;
    case 4:
      cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
      return bgr;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "the image has ", image.channels(), " channels; 1, 3 or 4 are supported"));
  }
}

// The factor from image pixels to detection-image pixels.
double DetectionScale(const DetectorConfig& config, cv::Size size, int min_face_size_px,
                      float smallest_face_px) {
  const double long_side = std::max(size.width, size.height);
  const double largest = std::min(kMaxUpscale, config.max_detection_size_px / long_side);
  if (min_face_size_px <= 0) {
    return std::min({1.0, config.detection_size_px / long_side, largest});
  }
  // Just large enough that a face of the wanted minimum is findable; a
  // smaller copy is faster, and larger faces are found all the same. Never
  // so small that a face filling the photo would not be.
  const double wanted = smallest_face_px / min_face_size_px;
  const double floor = 1.2 * smallest_face_px / std::min(size.width, size.height);
  return std::min(largest, std::max(wanted, floor));
}

// A greyscale copy at `scale`. Large reductions first pick every n-th pixel
// up to twice the target size, then average 2x2 blocks: the cost is that of
// the small copy whatever the photo's size (an area average over a 12 MP
// photo would cost more than the detection), and the averaging step keeps
// most of the anti-aliasing.
cv::Mat DetectionImage(const cv::Mat& bgr, double scale) {
  const cv::Size target(std::max(1, static_cast<int>(std::lround(bgr.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(bgr.rows * scale))));
  cv::Mat small;
  if (scale == 1) {
    small = bgr;
  } else if (scale > 1) {
    cv::resize(bgr, small, target, 0, 0, cv::INTER_LINEAR);
  } else if (scale < 0.5) {
    cv::Mat halfway;
    cv::resize(bgr, halfway, target * 2, 0, 0, cv::INTER_NEAREST);
    cv::resize(halfway, small, target, 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(bgr, small, target, 0, 0, cv::INTER_AREA);
  }
  cv::Mat grey;
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  return grey;
}

// The smallest face the coarse-to-fine finder looks for when the request
// does not say, in the pixels of an image of `size` that is 1/`to_full` of
// the photo's size.
float DefaultMinFacePx(const DetectorConfig& config, cv::Size size, float to_full) {
  return std::max(static_cast<float>(config.min_face_floor_px) / to_full,
                  config.min_face_fraction * std::max(size.width, size.height));
}

// From the pixels of a reduced decode to the photo's.
void ScaleFace(float factor, Face* face) {
  face->box = cv::Rect2f(face->box.tl() * factor, face->box.size() * factor);
  FaceLandmarks& l = face->landmarks;
  for (cv::Point2f* point : {&l.left_eye_center, &l.right_eye_center, &l.nose_base,
                             &l.upper_lip_top, &l.mouth_left, &l.mouth_right}) {
    *point *= factor;
  }
  for (cv::Point2f& point : face->shape) point *= factor;
}

double MillisecondsSince(absl::Time start) {
  return absl::ToDoubleMilliseconds(absl::Now() - start);
}

}  // namespace

const char* FaceFinderName(FaceFinderKind kind) {
  switch (kind) {
    case FaceFinderKind::kCoarseToFine:
      return "coarse_to_fine";
    case FaceFinderKind::kHog:
      return "hog";
    case FaceFinderKind::kCascade:
      return "cascade";
  }
  return "unknown";
}

bool ParseFaceFinderKind(absl::string_view text, FaceFinderKind* kind) {
  if (text == "coarse_to_fine") {
    *kind = FaceFinderKind::kCoarseToFine;
    return true;
  }
  if (text == "hog") {
    *kind = FaceFinderKind::kHog;
    return true;
  }
  if (text == "cascade") {
    *kind = FaceFinderKind::kCascade;
    return true;
  }
  return false;
}

absl::Status ValidateDetectorConfig(const DetectorConfig& config) {
  if (config.detection_size_px < 80) {
    return absl::InvalidArgumentError(absl::StrCat(
        "detection_size_px must be at least 80 (got ", config.detection_size_px, ")"));
  }
  if (config.max_detection_size_px < config.detection_size_px) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_detection_size_px (", config.max_detection_size_px,
        ") must be at least detection_size_px (", config.detection_size_px, ")"));
  }
  if (config.min_decoded_long_side_px < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_decoded_long_side_px must not be negative (got ",
                     config.min_decoded_long_side_px, ")"));
  }
  if (config.max_pixels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_pixels must be positive (got ", config.max_pixels, ")"));
  }
  if (config.max_decoded_bytes <= 0 || config.decode_memory_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_decoded_bytes and decode_memory_bytes must be positive (got ",
                     config.max_decoded_bytes, " and ", config.decode_memory_bytes, ")"));
  }
  if (config.defaults.max_faces <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the default max_faces must be positive (got ", config.defaults.max_faces, ")"));
  }
  if (config.face_finder == FaceFinderKind::kCascade &&
      config.face_cascade_path.empty()) {
    return absl::InvalidArgumentError(
        "the cascade face finder needs a face cascade file");
  }
  if (config.face_finder == FaceFinderKind::kCoarseToFine &&
      config.coarse_cascade_path.empty()) {
    return absl::InvalidArgumentError(
        "the coarse_to_fine face finder needs a coarse cascade file");
  }
  if (!(config.min_face_fraction > 0 && config.min_face_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_face_fraction must be above 0 and at most 1 (got ",
                     config.min_face_fraction, ")"));
  }
  if (config.min_face_floor_px < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_face_floor_px must be positive (got ", config.min_face_floor_px, ")"));
  }
  return ValidateOptions(config.defaults);
}

absl::StatusOr<std::unique_ptr<FaceDetector>> FaceDetector::Create(
    const DetectorConfig& config) {
  if (absl::Status valid = ValidateDetectorConfig(config); !valid.ok()) return valid;
  std::vector<LoadedModel> models;
  std::unique_ptr<internal::FaceFinder> finder;
  if (config.face_finder == FaceFinderKind::kCoarseToFine) {
    absl::StatusOr<std::unique_ptr<internal::FaceFinder>> coarse_to_fine =
        internal::MakeCoarseToFineFaceFinder(config.coarse_cascade_path);
    if (!coarse_to_fine.ok()) return coarse_to_fine.status();
    finder = *std::move(coarse_to_fine);
    models.push_back(
        {.name = "coarse_face_cascade", .detail = config.coarse_cascade_path});
    models.push_back({.name = "dlib_hog_frontal_face", .detail = "built into libdlib"});
  } else if (config.face_finder == FaceFinderKind::kHog) {
    finder = internal::MakeHogFaceFinder();
    models.push_back({.name = "dlib_hog_frontal_face", .detail = "built into libdlib"});
  } else {
    absl::StatusOr<std::unique_ptr<internal::FaceFinder>> cascade =
        internal::MakeCascadeFaceFinder(config.face_cascade_path);
    if (!cascade.ok()) return cascade.status();
    finder = *std::move(cascade);
    models.push_back({.name = "face_cascade", .detail = config.face_cascade_path});
  }
  absl::StatusOr<std::unique_ptr<internal::LandmarkFitter>> fitter;
  if (!config.landmark_model_path.empty()) {
    fitter = internal::MakeShapePredictorFitter(config.landmark_model_path);
    models.push_back(
        {.name = "shape_predictor_68", .detail = config.landmark_model_path});
  } else {
    fitter = internal::MakeGeometryFitter(config.eye_cascade_path);
    if (!config.eye_cascade_path.empty()) {
      models.push_back({.name = "eye_cascade", .detail = config.eye_cascade_path});
    }
  }
  if (!fitter.ok()) return fitter.status();
  std::unique_ptr<FaceDetector> detector(
      new FaceDetector(config, std::move(finder), *std::move(fitter), std::move(models)));
  // Makes the first finder instance now, so the first request does not
  // wait for it.
  absl::StatusOr<Detection> warm_up = detector->Detect(
      cv::Mat(kWarmUpSizePx, kWarmUpSizePx, CV_8UC3, cv::Scalar::all(128)), {});
  if (!warm_up.ok()) return warm_up.status();
  return detector;
}

FaceDetector::FaceDetector(DetectorConfig config,
                           std::unique_ptr<internal::FaceFinder> finder,
                           std::unique_ptr<internal::LandmarkFitter> fitter,
                           std::vector<LoadedModel> loaded_models)
    : config_(std::move(config)),
      finder_(std::move(finder)),
      fitter_(std::move(fitter)),
      loaded_models_(std::move(loaded_models)),
      decode_budget_(
          std::make_unique<imaging::DecodeMemoryBudget>(config_.decode_memory_bytes)) {}

FaceDetector::~FaceDetector() = default;

absl::StatusOr<Detection> FaceDetector::Detect(
    const cv::Mat& image, const DetectOptions& requested,
    const server::CallDeadline& deadline) const {
  return DetectAtScale(image, requested, deadline, 1);
}

absl::StatusOr<Detection> FaceDetector::DetectAtScale(
    const cv::Mat& image, const DetectOptions& requested,
    const server::CallDeadline& deadline, int scale_denominator) const {
  const absl::Time start = absl::Now();
  // Image pixels to the full-size image's pixels, in which options and
  // results are given.
  const float to_full = static_cast<float>(scale_denominator);
  if (absl::Status valid = ValidateOptions(requested); !valid.ok()) return valid;
  if (absl::Status go_on = deadline.Check("finding faces"); !go_on.ok()) return go_on;
  const DetectOptions options = WithDefaults(requested, config_.defaults);
  Detection detection;
  std::vector<FaceCandidate> candidates;
  cv::Mat bgr;
  try {
    absl::StatusOr<cv::Mat> converted = AsBgr(image);
    if (!converted.ok()) return converted.status();
    bgr = *std::move(converted);
    detection.image_size = bgr.size();
    double scale = 1;
    float min_face_px = static_cast<float>(options.min_face_size_px) / to_full;
    cv::Mat grey;
    if (finder_->ScalesItself()) {
      if (min_face_px <= 0) min_face_px = DefaultMinFacePx(config_, bgr.size(), to_full);
      cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    } else {
      // A requested minimum stays one, however much the decode shrank it.
      const int min_face = options.min_face_size_px > 0
                               ? std::max(1, static_cast<int>(std::lround(min_face_px)))
                               : 0;
      scale = DetectionScale(config_, bgr.size(), min_face, finder_->smallest_face_px());
      grey = DetectionImage(bgr, scale);
    }
    absl::StatusOr<std::vector<FaceCandidate>> found =
        finder_->Find(grey, static_cast<float>(min_face_px * scale), deadline);
    if (!found.ok()) return found.status();
    for (FaceCandidate& candidate : *found) {
      const cv::Rect2f& b = candidate.box;
      candidate.box =
          cv::Rect2f(b.x / scale, b.y / scale, b.width / scale, b.height / scale);
      if (candidate.box.width * to_full < options.min_face_size_px) continue;
      if (candidate.confidence < options.min_confidence) continue;
      candidates.push_back(candidate);
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("face detection failed: ", e.what()));
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FaceCandidate& a, const FaceCandidate& b) {
                     return a.box.area() > b.box.area();
                   });
  if (candidates.size() > static_cast<size_t>(options.max_faces)) {
    candidates.resize(options.max_faces);
  }
  const cv::Rect2f image_bounds(0, 0, bgr.cols, bgr.rows);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const FaceCandidate& candidate = candidates[i];
    if (absl::Status go_on =
            deadline.Check(absl::StrCat("fitting face ", i, "'s landmarks"));
        !go_on.ok()) {
      return go_on;
    }
    absl::StatusOr<internal::FittedFace> fitted =
        fitter_->Fit(bgr, candidate.box, candidate.roll_hint_degrees);
    if (!fitted.ok()) return fitted.status();
    detection.faces.push_back(Face{
        // dlib's boxes may reach past the border for faces at the edge.
        .box = candidate.box & image_bounds,
        .confidence = candidate.confidence,
        .roll_degrees = fitted->roll_degrees,
        .landmarks = fitted->landmarks,
        .landmark_source = fitted->source,
        .shape = std::move(fitted->shape)});
    if (to_full != 1) ScaleFace(to_full, &detection.faces.back());
  }
  detection.detect_duration_ms = MillisecondsSince(start);
  return detection;
}

absl::StatusOr<Detection> FaceDetector::DetectEncoded(
    absl::string_view bytes, const DetectOptions& options,
    const server::CallDeadline& deadline) const {
  const absl::Time start = absl::Now();
  if (absl::Status go_on = deadline.Check("decoding"); !go_on.ok()) return go_on;
  absl::StatusOr<imaging::DecodedImage> decoded =
      imaging::DecodeImage(bytes, {.max_pixels = config_.max_pixels,
                                   .max_decoded_bytes = config_.max_decoded_bytes,
                                   .budget = decode_budget_.get(),
                                   .min_long_side_px = config_.min_decoded_long_side_px,
                                   .deadline = deadline.deadline,
                                   .cancelled = deadline.cancelled});
  if (!decoded.ok()) return decoded.status();
  const double decode_ms = MillisecondsSince(start);
  absl::StatusOr<Detection> detection =
      DetectAtScale(decoded->pixels, options, deadline, decoded->scale_denominator);
  if (!detection.ok()) return detection;
  detection->image_size = decoded->full_size;
  detection->decode_duration_ms = decode_ms;
  return detection;
}

}  // namespace stache::detector
