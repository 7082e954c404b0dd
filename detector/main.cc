// stache-detector: finds faces and the landmarks a mustache needs.
#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "detector/detector_process.h"
#include "server/allocator.h"
#include "server/flags.h"
#include "server/log.h"

namespace {
const stache::detector::DetectorConfig kDefaults;
}  // namespace

ABSL_FLAG(int, port, 50051, "gRPC port to listen on.");
ABSL_FLAG(int, admin_port, 9091,
          "HTTP port for Prometheus /metrics and /healthz; -1 turns it off.");
ABSL_FLAG(std::string, face_finder,
          stache::detector::FaceFinderName(kDefaults.face_finder),
          "How faces are found: 'coarse_to_fine' (the cascade in --coarse_cascade on a "
          "small copy, each candidate confirmed by dlib's HOG detector: faces down to "
          "--min_face_fraction of the long side), 'hog' (dlib's HOG frontal face "
          "detector on a --detection_size_px copy) or 'cascade' (the OpenCV cascade in "
          "--face_cascade on that copy).");
ABSL_FLAG(std::string, coarse_cascade, kDefaults.coarse_cascade_path,
          "OpenCV cascade with a small window used with --face_finder=coarse_to_fine.");
ABSL_FLAG(float, min_face_fraction, kDefaults.min_face_fraction,
          "With --face_finder=coarse_to_fine, faces down to this fraction of the long "
          "side are found when a request sets no minimum size...");
ABSL_FLAG(int, min_face_floor_px, kDefaults.min_face_floor_px,
          "...but never below this width in pixels.");
ABSL_FLAG(std::string, face_cascade, kDefaults.face_cascade_path,
          "OpenCV cascade file used with --face_finder=cascade.");
ABSL_FLAG(
    std::string, landmark_model, kDefaults.landmark_model_path,
    "dlib 68-point shape predictor file. Empty: landmarks from the face box geometry "
    "only (the model's training data is not licensed for commercial use).");
ABSL_FLAG(std::string, eye_cascade, kDefaults.eye_cascade_path,
          "OpenCV eye cascade that refines the geometry-only landmarks when "
          "--landmark_model is empty. Empty: box geometry alone.");
ABSL_FLAG(int, detection_size_px, kDefaults.detection_size_px,
          "Long side of the downscaled copy faces are searched in.");
ABSL_FLAG(int, max_detection_size_px, kDefaults.max_detection_size_px,
          "Largest long side of that copy when a request asks for small faces.");
ABSL_FLAG(int, min_decoded_long_side_px, kDefaults.min_decoded_long_side_px,
          "JPEGs are decoded at the smallest of 1/2, 1/4, 1/8 of their size whose long "
          "side is at least this (faster); 0: always at full size.");
ABSL_FLAG(int64_t, max_pixels, kDefaults.max_pixels,
          "Largest image accepted, width x height, checked before decoding.");
ABSL_FLAG(
    int64_t, max_decoded_bytes, kDefaults.max_decoded_bytes,
    "Largest decoded image in bytes (width * height * channels * bytes per channel), "
    "checked before decoding.");
ABSL_FLAG(
    int64_t, decode_memory_bytes, kDefaults.decode_memory_bytes,
    "Memory all decodes in flight may hold; a call over it waits up to 1 s, then gets "
    "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_faces, kDefaults.defaults.max_faces,
          "Faces returned when a request does not say.");
ABSL_FLAG(int, min_face_size_px, kDefaults.defaults.min_face_size_px,
          "Smallest face width when a request does not say; 0: what --min_face_fraction "
          "(coarse_to_fine) or --detection_size_px (hog, cascade) gives.");

ABSL_FLAG(int, opencv_threads, stache::detector::DetectorProcessConfig().opencv_threads,
          "Threads OpenCV may split one call's work over; 1: each call on its own "
          "request thread (the least CPU per call); 0: one per core.");

int main(int argc, char** argv) {
  stache::server::SetLogService("detector");
  stache::server::ParseFlags(
      argc, argv, "stache-detector: finds faces and the landmarks a mustache needs.");
  stache::server::KeepFreedMemoryForReuse();
  stache::detector::DetectorProcessConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port),
                                                      absl::GetFlag(FLAGS_admin_port)),
      .detector = {.face_cascade_path = absl::GetFlag(FLAGS_face_cascade),
                   .coarse_cascade_path = absl::GetFlag(FLAGS_coarse_cascade),
                   .min_face_fraction = absl::GetFlag(FLAGS_min_face_fraction),
                   .min_face_floor_px = absl::GetFlag(FLAGS_min_face_floor_px),
                   .eye_cascade_path = absl::GetFlag(FLAGS_eye_cascade),
                   .landmark_model_path = absl::GetFlag(FLAGS_landmark_model),
                   .detection_size_px = absl::GetFlag(FLAGS_detection_size_px),
                   .max_detection_size_px = absl::GetFlag(FLAGS_max_detection_size_px),
                   .min_decoded_long_side_px =
                       absl::GetFlag(FLAGS_min_decoded_long_side_px),
                   .max_pixels = absl::GetFlag(FLAGS_max_pixels),
                   .max_decoded_bytes = absl::GetFlag(FLAGS_max_decoded_bytes),
                   .decode_memory_bytes = absl::GetFlag(FLAGS_decode_memory_bytes),
                   .defaults = {.max_faces = absl::GetFlag(FLAGS_max_faces),
                                .min_face_size_px =
                                    absl::GetFlag(FLAGS_min_face_size_px)}},
      .opencv_threads = absl::GetFlag(FLAGS_opencv_threads)};
  if (!stache::detector::ParseFaceFinderKind(absl::GetFlag(FLAGS_face_finder),
                                             &config.detector.face_finder)) {
    stache::server::LogError(
        "bad flag",
        {{"error", "--face_finder must be 'coarse_to_fine', 'hog' or 'cascade'"}});
    return 2;
  }
  if (absl::Status status = stache::detector::RunDetectorProcess(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
