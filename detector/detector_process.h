// Runs the detector service as a process: config in, models loaded once,
// serve until SIGTERM.
//
//   DetectorProcessConfig config{.server = ServerConfigFromFlags(port)};
//   return RunDetectorProcess(config).ok() ? 0 : 1;
#ifndef STACHE_DETECTOR_DETECTOR_PROCESS_H_
#define STACHE_DETECTOR_DETECTOR_PROCESS_H_

#include "absl/status/status.h"
#include "detector/detector.h"
#include "server/grpc_server.h"
#include "server/info_service.h"

namespace stache::detector {

struct DetectorProcessConfig {
  server::ServerConfig server;
  DetectorConfig detector;
  // Threads OpenCV may split one call's work over (cv::setNumThreads, for
  // the whole process). 1: each call runs on its own request thread, so
  // concurrent calls use the cores without OpenCV's workers waiting on
  // each other; 0: OpenCV's default, one per core.
  int opencv_threads = 1;
};

// What GetInfo reports: the service and the models `detector` loaded.
server::ServiceIdentity DetectorIdentity(const FaceDetector& detector);

// Loads the models (failing fast, naming a missing or unreadable file), then
// blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunDetectorProcess(const DetectorProcessConfig& config);

}  // namespace stache::detector

#endif  // STACHE_DETECTOR_DETECTOR_PROCESS_H_
