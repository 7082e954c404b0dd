// Runs the gateway: channels to the backends, the clients over them, the
// gallery (core), the status board and the HTTP adapter, wired from one
// config struct.
//
//   GatewayConfig config{.port = 8000};
//   return RunGatewayProcess(config).ok() ? 0 : 1;  // until SIGTERM
//
//   // Tests: the same wiring, on a free port, stopped by the test.
//   auto gateway = Gateway::Start({.host = "127.0.0.1", .port = 0, ...});
#ifndef STACHE_GATEWAY_GATEWAY_PROCESS_H_
#define STACHE_GATEWAY_GATEWAY_PROCESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/http_server_options.h"
#include "server/tls.h"
#include "storage/development_token.h"

namespace stache::gateway {

struct GatewayConfig {
  // Where the HTTP server listens and how it bounds clients, including
  // --max_body_bytes.
  HttpServerOptions http;
  // /metrics and the full /v1/info, on `host`; -1: none, 0: a free port.
  int admin_port = -1;
  // On SIGTERM, in-flight requests finish; see HttpServer::Shutdown.
  absl::Duration grace_period = absl::Seconds(20);
  // Part of the grace period spent serving with /readyz at 503 first.
  absl::Duration drain_delay = absl::Seconds(1);
  std::string detector_address = "localhost:50051";
  std::string overlay_address = "localhost:50052";
  std::string storage_address = "localhost:50053";
  // Client TLS for every backend channel (server::ClientTlsFromFlags);
  // empty: plaintext.
  server::TlsMaterial tls;
  // gRPC message limits fit this (the backends use the same flag).
  int64_t max_image_bytes = 25'000'000;
  std::string storage_namespace = "gateway";
  // Bearer token for storage; a secret, so never a flag (see LoadStorageToken).
  std::string storage_token = storage::kDevelopmentToken;
  // Use the development token although `host` is not loopback.
  bool insecure_dev_auth = false;
  // Session cookie keys, the first signs (see LoadSessionKeys); empty: a
  // random key per process, with a warning.
  std::vector<std::string> session_keys;
  // Proxies in front of the gateway whose X-Forwarded-For and
  // X-Forwarded-Proto are believed (a load balancer is one).
  int trusted_proxy_hops = 0;
  // Uploads per client address: refill per minute and burst; 0 per minute
  // turns the limit off. Loopback clients and these networks are exempt.
  double upload_rate_per_minute = 30;
  int upload_burst = 10;
  std::vector<std::string> rate_limit_exempt_cidrs;
  // Deadline of each call to a backend during a request.
  absl::Duration backend_timeout = absl::Seconds(10);
  // Deadline of health and info calls (/readyz, /v1/info).
  absl::Duration probe_timeout = absl::Seconds(2);
  // ECS_CONTAINER_METADATA_URI_V4, when running on ECS.
  std::string ecs_metadata_uri;
};

absl::Status ValidateGatewayConfig(const GatewayConfig& config);

// The storage token: the first line of `token_file` when set, else
// `token_from_environment` (STACHE_STORAGE_TOKEN) when set; else none ("")
// when the gateway has a client certificate (storage knows it by that, and
// a token sent would decide instead), else the development token (which
// ValidateGatewayConfig allows on loopback only). A file or variable that is
// set but empty is an error, not a fallback.
absl::StatusOr<std::string> LoadStorageToken(const std::string& token_file,
                                             const char* token_from_environment,
                                             bool has_client_certificate = false);

// The session keys (see ParseSessionKeys): from `key_file` when set, else
// `keys_from_environment` (STACHE_SESSION_KEY) when set, else none (a random
// key). Set but empty, or a key shorter than 32 bytes, is an error.
absl::StatusOr<std::vector<std::string>> LoadSessionKeys(
    const std::string& key_file, const char* keys_from_environment);

class GatewayParts;

// A running gateway. Thread-safe.
class Gateway final {
 public:
  // Fails fast on a bad config or a busy port; backends may come later.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(const GatewayConfig& config);
  ~Gateway();

  int port() const;
  // -1 without an admin port.
  int admin_port() const;
  // /readyz turns 503 while requests are still served for `drain_delay`, so
  // balancers stop sending new ones; then stops accepting, and in-flight
  // requests finish.
  void Shutdown(absl::Duration drain_delay = absl::ZeroDuration());

 private:
  explicit Gateway(std::unique_ptr<GatewayParts> parts);
  std::unique_ptr<GatewayParts> parts_;
};

// Blocks until SIGTERM/SIGINT, then shuts down gracefully. Fails fast on bad
// config or a busy port.
absl::Status RunGatewayProcess(const GatewayConfig& config);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_GATEWAY_PROCESS_H_
