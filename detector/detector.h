// Finds faces in a photo and the landmarks a mustache needs: both eye
// centres, the nose base, the upper-lip top and the mouth corners, plus the
// face's roll. Coordinates are pixels of the image as a viewer sees it.
//
//   STACHE_ASSIGN_OR_RETURN(std::unique_ptr<FaceDetector> detector,
//                           FaceDetector::Create(DetectorConfig{}));
//   STACHE_ASSIGN_OR_RETURN(Detection found, detector->DetectEncoded(jpeg, {}));
#ifndef STACHE_DETECTOR_DETECTOR_H_
#define STACHE_DETECTOR_DETECTOR_H_

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "imaging/decode_budget.h"
#include "server/call_deadline.h"

namespace stache::detector {

namespace internal {
class FaceFinder;
class LandmarkFitter;
}  // namespace internal

// Where faces are found.
enum class FaceFinderKind {
  // A small-window cascade (DetectorConfig::coarse_cascade_path) on a copy
  // just large enough for the smallest wanted face, upright and rolled by
  // +-20 degrees, each candidate confirmed by dlib's HOG detector on a crop:
  // finds faces down to DetectorConfig::min_face_fraction of the long side.
  kCoarseToFine,
  // dlib's HOG frontal face detector (built into libdlib, no model file) on
  // a copy of DetectorConfig::detection_size_px: finds faces rolled by
  // +-20 degrees, down to about 22% of the long side at 320 px.
  kHog,
  // An OpenCV cascade from Debian's opencv-data, run upright and on copies
  // rotated by +-kCascadeRollDegrees so that rolled faces are found too, on
  // a copy of DetectorConfig::detection_size_px.
  kCascade,
};

// "coarse_to_fine" / "hog" / "cascade".
const char* FaceFinderName(FaceFinderKind kind);
// Parses "coarse_to_fine" / "hog" / "cascade"; false for anything else.
bool ParseFaceFinderKind(absl::string_view text, FaceFinderKind* kind);

// Per-request tuning. Zero fields take the DetectorConfig defaults.
struct DetectOptions {
  // At most this many faces, the largest.
  int max_faces = 0;
  // Faces narrower than this (box width, image pixels) are ignored. Smaller
  // values make the detection image larger (slower), up to
  // DetectorConfig::max_detection_size_px.
  int min_face_size_px = 0;
  // Faces with a lower confidence (0..1) are dropped.
  float min_confidence = 0;
};

// Start-up configuration; models are loaded once by FaceDetector::Create.
struct DetectorConfig {
  FaceFinderKind face_finder = FaceFinderKind::kCoarseToFine;
  // Used with FaceFinderKind::kCascade.
  std::string face_cascade_path =
      "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml";
  // Used with FaceFinderKind::kCoarseToFine: its 24 px window lets the
  // coarse copy be small.
  std::string coarse_cascade_path =
      "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml";
  // With kCoarseToFine and no minimum face size in the request: faces down
  // to this fraction of the photo's long side, and never below
  // min_face_floor_px wide.
  float min_face_fraction = 0.05f;
  int min_face_floor_px = 40;
  // Finds the eyes inside each face when there is no landmark model; empty
  // means landmarks from the face box geometry alone.
  std::string eye_cascade_path = "/usr/share/opencv4/haarcascades/haarcascade_eye.xml";
  // dlib's 68-point shape predictor. Empty means geometry only (see README:
  // the model's training data is not licensed for commercial use).
  std::string landmark_model_path =
      "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  // kHog and kCascade: long side of the image the finder sees when no
  // minimum face size asks for more. Larger finds smaller faces and costs
  // more.
  int detection_size_px = 320;
  // Upper bound of the detection image's long side, whatever the request.
  int max_detection_size_px = 1024;
  // JPEGs are decoded at the smallest of libjpeg's scales (1/2, 1/4, 1/8)
  // whose long side is at least this: a 12 MP photo at 1/4, where a face of
  // 5% of the long side is still 50 px, enough to find it and fit its
  // landmarks. 0: always at full size.
  int min_decoded_long_side_px = 1000;
  // Largest decoded image, width * height, checked before decoding.
  int64_t max_pixels = 40'000'000;
  // Largest decoded image in bytes, width * height * channels * bytes per
  // channel as stored, checked before any pixel buffer is allocated.
  int64_t max_decoded_bytes = 160'000'000;
  // Memory all decodes in flight may hold together (see
  // imaging::DecodeMemoryBudget); a call over it waits briefly, then gets
  // RESOURCE_EXHAUSTED.
  int64_t decode_memory_bytes = int64_t{1} << 30;
  // Used where a request leaves DetectOptions fields at 0.
  DetectOptions defaults = {.max_faces = 64, .min_face_size_px = 0, .min_confidence = 0};
};

// Rejects impossible values with a message naming the setting.
absl::Status ValidateDetectorConfig(const DetectorConfig& config);

struct FaceLandmarks {
  cv::Point2f left_eye_center;
  cv::Point2f right_eye_center;
  cv::Point2f nose_base;
  cv::Point2f upper_lip_top;
  cv::Point2f mouth_left;
  cv::Point2f mouth_right;
};

enum class LandmarkSource {
  // From the face box geometry, with the eyes found by the eye cascade when
  // it sees both.
  kCascadeGeometry,
  // Fitted by dlib's 68-point shape predictor.
  kShapePredictor68,
};

struct Face {
  cv::Rect2f box;
  // 0..1; 0.5 is the finder's own decision threshold.
  float confidence = 0;
  // Positive when the face is turned clockwise as the viewer sees it (the
  // eye line falls to the right).
  float roll_degrees = 0;
  FaceLandmarks landmarks;
  LandmarkSource landmark_source = LandmarkSource::kCascadeGeometry;
  // With kShapePredictor68, all 68 points the model fitted (iBUG 300-W
  // order); empty otherwise.
  std::vector<cv::Point2f> shape;
};

// What one Detect call found.
struct Detection {
  // Decoded size, orientation applied.
  cv::Size image_size;
  // Largest first.
  std::vector<Face> faces;
  double decode_duration_ms = 0;
  double detect_duration_ms = 0;
};

// A model or cascade the detector loaded, for GetInfo.
struct LoadedModel {
  std::string name;    // e.g. "shape_predictor_68"
  std::string detail;  // file path, or "built into libdlib"
};

// Loads the models once and detects in any number of threads at the same
// time: the landmark model is shared read-only; the finders, which keep
// scratch state, come from small pools, so no lock is held while detecting.
class FaceDetector final {
 public:
  // Fails with a message naming the file when a model cannot be read.
  static absl::StatusOr<std::unique_ptr<FaceDetector>> Create(
      const DetectorConfig& config);
  ~FaceDetector();

  // Faces in a decoded image (CV_8UC3 BGR; CV_8UC1 and CV_8UC4 are converted).
  // Stops with DEADLINE_EXCEEDED or CANCELLED between stages (finding faces,
  // fitting each face's landmarks) once `deadline` says so.
  absl::StatusOr<Detection> Detect(const cv::Mat& image, const DetectOptions& options,
                                   const server::CallDeadline& deadline = {}) const;

  // Decodes an encoded image under the pixel limit, applies its EXIF
  // orientation, then detects. INVALID_ARGUMENT for data that is not an
  // image, RESOURCE_EXHAUSTED for an image over the pixel limit; the decoder
  // honours `deadline` too.
  absl::StatusOr<Detection> DetectEncoded(
      absl::string_view bytes, const DetectOptions& options,
      const server::CallDeadline& deadline = {}) const;

  const DetectorConfig& config() const { return config_; }
  const std::vector<LoadedModel>& loaded_models() const { return loaded_models_; }

 private:
  // Detect on `image`, which is the photo reduced 1/`scale_denominator` in
  // each direction; options and results are in the photo's pixels (except
  // Detection::image_size, which the caller sets).
  absl::StatusOr<Detection> DetectAtScale(const cv::Mat& image,
                                          const DetectOptions& options,
                                          const server::CallDeadline& deadline,
                                          int scale_denominator) const;

  FaceDetector(DetectorConfig config, std::unique_ptr<internal::FaceFinder> finder,
               std::unique_ptr<internal::LandmarkFitter> fitter,
               std::vector<LoadedModel> loaded_models);

  const DetectorConfig config_;
  const std::unique_ptr<internal::FaceFinder> finder_;
  const std::unique_ptr<internal::LandmarkFitter> fitter_;
  const std::vector<LoadedModel> loaded_models_;
  const std::unique_ptr<imaging::DecodeMemoryBudget> decode_budget_;
};

}  // namespace stache::detector

#endif  // STACHE_DETECTOR_DETECTOR_H_
