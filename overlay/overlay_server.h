// Runs the overlay service as a process: config in, serve until SIGTERM.
//
//   OverlayServerConfig config{.server = ServerConfigFromFlags(port)};
//   return RunOverlayServer(config).ok() ? 0 : 1;
#ifndef STACHE_OVERLAY_OVERLAY_SERVER_H_
#define STACHE_OVERLAY_OVERLAY_SERVER_H_

#include "absl/status/status.h"
#include "overlay/mustache_overlay.h"
#include "server/grpc_server.h"

namespace stache::overlay {

struct OverlayServerConfig {
  server::ServerConfig server;
  OverlayConfig overlay;
};

// Blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunOverlayServer(const OverlayServerConfig& config);

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_OVERLAY_SERVER_H_
