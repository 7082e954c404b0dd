// Runs the detector service as a process: config in, serve until SIGTERM.
//
//   DetectorServerConfig config{.server = ServerConfigFromFlags(port)};
//   return RunDetectorServer(config).ok() ? 0 : 1;
#ifndef STACHE_DETECTOR_DETECTOR_SERVER_H_
#define STACHE_DETECTOR_DETECTOR_SERVER_H_

#include "absl/status/status.h"
#include "server/grpc_server.h"

namespace stache::detector {

struct DetectorServerConfig {
  server::ServerConfig server;
};

// Blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunDetectorServer(const DetectorServerConfig& config);

}  // namespace stache::detector

#endif  // STACHE_DETECTOR_DETECTOR_SERVER_H_
