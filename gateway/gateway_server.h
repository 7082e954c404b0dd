// Runs the HTTP gateway as a process: config in, serve until SIGTERM.
//
//   GatewayConfig config{.port = 8000};
//   return RunGatewayServer(config).ok() ? 0 : 1;
#ifndef STACHE_GATEWAY_GATEWAY_SERVER_H_
#define STACHE_GATEWAY_GATEWAY_SERVER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace stache::gateway {

struct GatewayConfig {
  std::string host = "0.0.0.0";
  int port = 8000;
  absl::Duration grace_period = absl::Seconds(20);
  std::string detector_address = "localhost:50051";
  std::string overlay_address = "localhost:50052";
  std::string storage_address = "localhost:50053";
  int64_t max_body_bytes = 20'000'000;
};

absl::Status ValidateGatewayConfig(const GatewayConfig& config);

// Blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunGatewayServer(const GatewayConfig& config);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_GATEWAY_SERVER_H_
