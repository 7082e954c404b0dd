// Runs the overlay service as a process: config in, serve until SIGTERM.
//
//   OverlayProcessConfig config{.server = ServerConfigFromFlags(port)};
//   return RunOverlayProcess(config).ok() ? 0 : 1;
#ifndef STACHE_OVERLAY_OVERLAY_PROCESS_H_
#define STACHE_OVERLAY_OVERLAY_PROCESS_H_

#include "absl/status/status.h"
#include "overlay/mustache_overlay.h"
#include "server/grpc_server.h"

namespace stache::overlay {

struct OverlayProcessConfig {
  server::ServerConfig server;
  OverlayConfig overlay;
};

// Blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunOverlayProcess(const OverlayProcessConfig& config);

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_OVERLAY_PROCESS_H_
