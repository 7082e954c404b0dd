#include "detector/detector_process.h"

#include <memory>
#include <opencv2/core/utility.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "detector/detector_service.h"
#include "server/log.h"
#include "server/status_macros.h"

namespace stache::detector {

server::ServiceIdentity DetectorIdentity(const FaceDetector& detector) {
  server::ServiceIdentity identity{
      .service_name = "detector",
      .service_names = {"stache.detector.v1.DetectorService"}};
  for (const LoadedModel& model : detector.loaded_models()) {
    identity.components.push_back(
        {.name = model.name, .kind = "model", .detail = model.detail});
  }
  return identity;
}

absl::Status RunDetectorProcess(const DetectorProcessConfig& config) {
  server::BlockTerminationSignals();
  if (config.opencv_threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "opencv_threads must not be negative (got ", config.opencv_threads, ")"));
  }
  // OpenCV's 0 means "run serially"; ours means its default (-1).
  cv::setNumThreads(config.opencv_threads == 0 ? -1 : config.opencv_threads);
  STACHE_RETURN_IF_ERROR(server::ValidateServerConfig(config.server));
  const absl::Time load_start = absl::Now();
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<FaceDetector> detector,
                          FaceDetector::Create(config.detector));
  server::LogInfo("models loaded",
                  {{"face_finder", FaceFinderName(config.detector.face_finder)},
                   {"landmark_model", config.detector.landmark_model_path},
                   {"load_ms", absl::ToDoubleMilliseconds(absl::Now() - load_start)}});
  server::MetricsRegistry metrics;
  server::Counter& faces = metrics.AddCounter("stache_detector_faces_detected_total",
                                              "Faces returned by Detect.", {});
  DetectorServiceImpl service(*detector, config.server.max_image_bytes, &faces);
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<server::GrpcServer> grpc_server,
      server::GrpcServer::Start(config.server, DetectorIdentity(*detector), {&service},
                                &metrics));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::detector
