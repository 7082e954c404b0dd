#include "gateway/gateway_server.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "gateway/backend_clients.h"
#include "gateway/gallery.h"
#include "gateway/http_server.h"
#include "gateway/instance_identity.h"
#include "gateway/metrics.h"
#include "gateway/status_board.h"
#include "server/grpc_channel.h"
#include "server/grpc_server.h"
#include "server/log.h"

namespace stache::gateway {

// Everything a running gateway owns, in construction order (destroyed in
// reverse: the HTTP server first, the channels last).
class GatewayParts {
 public:
  explicit GatewayParts(const GatewayConfig& config)
      : detector_channel(server::MakeChannel(config.detector_address, config.max_image_bytes)),
        overlay_channel(server::MakeChannel(config.overlay_address, config.max_image_bytes)),
        storage_channel(server::MakeChannel(config.storage_address, config.max_image_bytes)),
        detector(detector::v1::DetectorService::NewStub(detector_channel), &metrics),
        overlay(overlay::v1::OverlayService::NewStub(overlay_channel), &metrics),
        storage(storage::v1::StorageService::NewStub(storage_channel),
                config.storage_namespace, config.storage_token, &metrics),
        gallery(&detector, &overlay, &storage,
                GalleryOptions{.backend_timeout = config.backend_timeout,
                               .max_image_bytes = config.max_image_bytes},
                &metrics),
        detector_probe(detector_channel),
        overlay_probe(overlay_channel),
        storage_probe(storage_channel),
        board(DescribeInstance(config.ecs_metadata_uri, config.probe_timeout),
              config.max_body_bytes,
              {{.name = "detector",
                .target = config.detector_address,
                .health_service = "stache.detector.v1.DetectorService",
                .probe = &detector_probe},
               {.name = "overlay",
                .target = config.overlay_address,
                .health_service = "stache.overlay.v1.OverlayService",
                .probe = &overlay_probe},
               {.name = "storage",
                .target = config.storage_address,
                .health_service = "stache.storage.v1.StorageService",
                .probe = &storage_probe}},
              [max_image_bytes = config.max_image_bytes](const std::string& address) {
                return std::make_unique<BackendProbe>(
                    server::MakeChannel(address, max_image_bytes));
              },
              config.probe_timeout) {}

  GatewayMetrics metrics;
  std::shared_ptr<grpc::Channel> detector_channel;
  std::shared_ptr<grpc::Channel> overlay_channel;
  std::shared_ptr<grpc::Channel> storage_channel;
  DetectorClient detector;
  OverlayClient overlay;
  StorageClient storage;
  Gallery gallery;
  BackendProbe detector_probe;
  BackendProbe overlay_probe;
  BackendProbe storage_probe;
  StatusBoard board;
  std::unique_ptr<HttpServer> http;
};

absl::Status ValidateGatewayConfig(const GatewayConfig& config) {
  server::ServerConfig grpc_limits{.port = 0, .max_image_bytes = config.max_image_bytes};
  if (absl::Status status = server::ValidateServerConfig(grpc_limits); !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateHttpServerOptions(
          {.port = config.port,
           .max_body_bytes = config.max_body_bytes,
           .body_memory_bytes = config.http_body_memory_bytes,
           .threads = config.http_threads,
           .max_waiting_connections = config.http_max_waiting_connections,
           .max_connections = config.http_max_connections,
           .read_timeout = config.http_read_timeout,
           .write_timeout = config.http_write_timeout,
           .keep_alive_timeout = config.http_keep_alive_timeout});
      !status.ok()) {
    return status;
  }
  if (config.max_body_bytes > config.max_image_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--max_body_bytes %d exceeds --max_image_bytes %d: the backends would refuse "
        "uploads the gateway accepts",
        config.max_body_bytes, config.max_image_bytes));
  }
  if (config.drain_delay < absl::ZeroDuration() || config.drain_delay > config.grace_period) {
    return absl::InvalidArgumentError("--drain_delay must be between 0 and --grace_period");
  }
  if (config.backend_timeout <= absl::ZeroDuration() ||
      config.probe_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--backend_timeout and --probe_timeout must be positive");
  }
  for (const auto& [flag, value] : {std::pair{"--detector_address", &config.detector_address},
                                    std::pair{"--overlay_address", &config.overlay_address},
                                    std::pair{"--storage_address", &config.storage_address},
                                    std::pair{"--storage_namespace",
                                              &config.storage_namespace}}) {
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is empty"));
  }
  if (config.storage_token.empty()) {
    return absl::InvalidArgumentError("the storage token is empty");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LoadStorageToken(const std::string& token_file,
                                             const char* token_from_environment) {
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string token;
    if (!in.good() || !std::getline(in, token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--storage_token_file ", token_file, " cannot be read"));
    }
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--storage_token_file ", token_file, " is empty"));
    }
    return token;
  }
  if (token_from_environment != nullptr && *token_from_environment != '\0') {
    return std::string(absl::StripAsciiWhitespace(token_from_environment));
  }
  server::LogWarning(
      "using the development storage token; set STACHE_STORAGE_TOKEN or "
      "--storage_token_file outside a laptop");
  return std::string(kDevelopmentStorageToken);
}

Gateway::Gateway(std::unique_ptr<GatewayParts> parts) : parts_(std::move(parts)) {}

Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(const GatewayConfig& config) {
  if (absl::Status status = ValidateGatewayConfig(config); !status.ok()) return status;
  auto parts = std::make_unique<GatewayParts>(config);
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      {.host = config.host,
       .port = config.port,
       .max_body_bytes = config.max_body_bytes,
       .body_memory_bytes = config.http_body_memory_bytes,
       .threads = config.http_threads,
       .max_waiting_connections = config.http_max_waiting_connections,
       .max_connections = config.http_max_connections,
       .read_timeout = config.http_read_timeout,
       .write_timeout = config.http_write_timeout,
       .keep_alive_timeout = config.http_keep_alive_timeout},
      &parts->gallery, &parts->board, &parts->metrics);
  if (!http.ok()) return http.status();
  parts->http = *std::move(http);
  server::LogInfo("gateway backends", {{"detector", config.detector_address},
                                       {"overlay", config.overlay_address},
                                       {"storage", config.storage_address},
                                       {"storage_namespace", config.storage_namespace}});
  return std::unique_ptr<Gateway>(new Gateway(std::move(parts)));
}

int Gateway::port() const { return parts_->http->port(); }

void Gateway::Shutdown(absl::Duration drain_delay) {
  if (parts_->http == nullptr) return;
  parts_->http->StartDraining();
  absl::SleepFor(drain_delay);
  parts_->http->Shutdown();
}

absl::Status RunGatewayServer(const GatewayConfig& config) {
  // Before any thread exists, so that every thread inherits the mask and
  // sigwait below receives the signal.
  server::BlockTerminationSignals();
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(config);
  if (!gateway.ok()) return gateway.status();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server::LogInfo("shutting down", {{"signal", strsignal(signal_number)},
                                    {"grace_period_seconds",
                                     absl::ToDoubleSeconds(config.grace_period)}});
  absl::Notification stopped;
  std::thread stopper([&] {
    (*gateway)->Shutdown(config.drain_delay);
    stopped.Notify();
  });
  if (!stopped.WaitForNotificationWithTimeout(config.grace_period)) {
    // A handler waiting for a backend cannot be cancelled; past the grace
    // period the process ends with them, as the gRPC servers do.
    server::LogWarning("grace period over with requests in flight; exiting");
    std::fflush(stderr);
    std::_Exit(0);
  }
  stopper.join();
  server::LogInfo("stopped");
  return absl::OkStatus();
}

}  // namespace stache::gateway
