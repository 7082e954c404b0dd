#include "gateway/gateway_process.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "gateway/backend_clients.h"
#include "gateway/backend_targets.h"
#include "gateway/ecs_task_metadata.h"
#include "gateway/gallery.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"
#include "gateway/session.h"
#include "gateway/status_board.h"
#include "server/admin_server.h"
#include "server/grpc_channel.h"
#include "server/grpc_server.h"
#include "server/log.h"
#include "server/loopback.h"
#include "server/termination_signals.h"

namespace stache::gateway {

namespace {

// Every channel to a backend is made here, so that how they are secured is
// decided in one place. `server_name`: the name the backend's certificate
// must carry when `address` is not it (a resolved replica's IP address).
std::shared_ptr<grpc::Channel> BackendChannel(const GatewayConfig& config,
                                              const std::string& address,
                                              const std::string& server_name = "") {
  server::TlsMaterial tls = config.tls;
  if (tls.enabled() && tls.server_name.empty()) tls.server_name = server_name;
  return server::MakeChannel(address, config.max_image_bytes, tls);
}

// The configured keys (INVALID_ARGUMENT for bad ones), else a random key.
absl::StatusOr<SessionSigner> MakeSessionSigner(const GatewayConfig& config) {
  if (!config.session_keys.empty()) return SessionSigner::Create(config.session_keys);
  server::LogWarning(
      "no session key (--session_key_file or STACHE_SESSION_KEY): using a random one, so "
      "visitors lose their sessions (and their gallery) when the gateway restarts, and "
      "replicas do not share them");
  return SessionSigner::WithRandomKey();
}

}  // namespace

// Everything a running gateway owns, in construction order (destroyed in
// reverse: the HTTP and admin servers first, the channels last).
class GatewayParts {
 public:
  GatewayParts(const GatewayConfig& config, SessionSigner session_signer)
      : detector_channel(BackendChannel(config, config.detector_address)),
        overlay_channel(BackendChannel(config, config.overlay_address)),
        storage_channel(BackendChannel(config, config.storage_address)),
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
        board(
            DescribeInstance(config.ecs_metadata_uri, config.probe_timeout),
            config.http.max_body_bytes,
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
            [config](const std::string& target, const std::string& address) {
              return std::make_unique<GrpcBackendProbe>(
                  BackendChannel(config, address, TargetHost(target)));
            },
            config.probe_timeout),
        sessions(std::move(session_signer)),
        upload_limiter(RateLimit{.tokens_per_minute = config.upload_rate_per_minute,
                                 .burst = config.upload_burst}) {}

  GatewayMetrics metrics;
  std::shared_ptr<grpc::Channel> detector_channel;
  std::shared_ptr<grpc::Channel> overlay_channel;
  std::shared_ptr<grpc::Channel> storage_channel;
  DetectorClient detector;
  OverlayClient overlay;
  NamespacedStorageClient storage;
  Gallery gallery;
  GrpcBackendProbe detector_probe;
  GrpcBackendProbe overlay_probe;
  GrpcBackendProbe storage_probe;
  StatusBoard board;
  const SessionSigner sessions;
  RateLimiter upload_limiter;
  std::unique_ptr<server::AdminServer> admin;
  std::unique_ptr<HttpServer> http;
};

absl::Status ValidateGatewayConfig(const GatewayConfig& config) {
  server::ServerConfig grpc_limits{.port = 0, .max_image_bytes = config.max_image_bytes};
  if (absl::Status status = server::ValidateServerConfig(grpc_limits); !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateHttpServerOptions(config.http); !status.ok()) {
    return status;
  }
  if (config.http.max_body_bytes > config.max_image_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--max_body_bytes %d exceeds --max_image_bytes %d: the backends would refuse "
        "uploads the gateway accepts",
        config.http.max_body_bytes, config.max_image_bytes));
  }
  if (config.drain_delay < absl::ZeroDuration() ||
      config.drain_delay > config.grace_period) {
    return absl::InvalidArgumentError(
        "--drain_delay must be between 0 and --grace_period");
  }
  if (config.backend_timeout <= absl::ZeroDuration() ||
      config.probe_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--backend_timeout and --probe_timeout must be positive");
  }
  for (const auto& [flag, value] :
       {std::pair{"--detector_address", &config.detector_address},
        std::pair{"--overlay_address", &config.overlay_address},
        std::pair{"--storage_address", &config.storage_address},
        std::pair{"--storage_namespace", &config.storage_namespace}}) {
    if (value->empty())
      return absl::InvalidArgumentError(absl::StrCat(flag, " is empty"));
  }
  if (config.storage_token.empty() && config.tls.cert_pem.empty()) {
    return absl::InvalidArgumentError(
        "the storage token is empty and there is no client certificate (--tls_cert) to "
        "authenticate with instead");
  }
  if (config.storage_token == storage::kDevelopmentToken &&
      !server::IsLoopbackHost(config.http.host) && !config.insecure_dev_auth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the gateway listens on ", config.http.host,
        ", not loopback, so it will not use the published development storage token: set "
        "STACHE_STORAGE_TOKEN or --storage_token_file (or --insecure_dev_auth on a "
        "throwaway network)"));
  }
  if (config.admin_port < -1 || config.admin_port > 65535) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--admin_port %d is not a TCP port (0..65535) or -1 (none)", config.admin_port));
  }
  if (!config.session_keys.empty()) {
    if (absl::Status status = SessionSigner::Create(config.session_keys).status();
        !status.ok())
      return status;
  }
  if (config.trusted_proxy_hops < 0 || config.trusted_proxy_hops > 16) {
    return absl::InvalidArgumentError("--trusted_proxy_hops must be between 0 and 16");
  }
  if (config.upload_rate_per_minute < 0) {
    return absl::InvalidArgumentError("--upload_rate must be 0 (no limit) or positive");
  }
  if (config.upload_rate_per_minute > 0) {
    if (absl::Status status =
            ValidateRateLimit({.tokens_per_minute = config.upload_rate_per_minute,
                               .burst = config.upload_burst});
        !status.ok()) {
      return status;
    }
  }
  return IpNetworks::Parse(config.rate_limit_exempt_cidrs).status();
}

absl::StatusOr<std::string> LoadStorageToken(const std::string& token_file,
                                             const char* token_from_environment,
                                             bool has_client_certificate) {
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
  if (token_from_environment != nullptr) {
    const std::string token(absl::StripAsciiWhitespace(token_from_environment));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          "STACHE_STORAGE_TOKEN is set but empty: give the token, or unset it to use the "
          "development token on loopback");
    }
    return token;
  }
  if (has_client_certificate) return std::string();
  return std::string(storage::kDevelopmentToken);
}

absl::StatusOr<std::vector<std::string>> LoadSessionKeys(
    const std::string& key_file, const char* keys_from_environment) {
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in.good()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--session_key_file ", key_file, " cannot be read"));
    }
    std::stringstream text;
    text << in.rdbuf();
    return ParseSessionKeys(text.str(), absl::StrCat("--session_key_file ", key_file));
  }
  if (keys_from_environment != nullptr) {
    return ParseSessionKeys(keys_from_environment, "STACHE_SESSION_KEY");
  }
  return std::vector<std::string>();
}

Gateway::Gateway(std::unique_ptr<GatewayParts> parts) : parts_(std::move(parts)) {}

Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(const GatewayConfig& config) {
  if (absl::Status status = ValidateGatewayConfig(config); !status.ok()) return status;
  if (config.storage_token == storage::kDevelopmentToken) {
    server::LogWarning(
        config.insecure_dev_auth && !server::IsLoopbackHost(config.http.host)
            ? "--insecure_dev_auth: sending the published development storage token from "
              "a "
              "gateway other machines can reach; never do this in production"
            : "using the development storage token (loopback only); set "
              "STACHE_STORAGE_TOKEN or --storage_token_file outside a laptop");
  }
  absl::StatusOr<SessionSigner> session_signer = MakeSessionSigner(config);
  if (!session_signer.ok()) return session_signer.status();
  auto parts = std::make_unique<GatewayParts>(config, *std::move(session_signer));
  if (config.admin_port >= 0) {
    StatusBoard* board = &parts->board;
    absl::StatusOr<std::unique_ptr<server::AdminServer>> admin =
        server::AdminServer::Start(
            config.http.host, config.admin_port, &parts->metrics.registry(),
            {{.path = "/v1/info", .content_type = "application/json", .render = [board] {
                return board->Info(server::RequestContext()).dump();
              }}});
    if (!admin.ok()) return admin.status();
    parts->admin = *std::move(admin);
  }
  absl::StatusOr<IpNetworks> exempt = IpNetworks::Parse(config.rate_limit_exempt_cidrs);
  if (!exempt.ok()) return exempt.status();
  absl::StatusOr<std::unique_ptr<HttpServer>> http =
      HttpServer::Start(config.http, &parts->gallery, &parts->board, &parts->metrics,
                        VisitorGuards{.sessions = &parts->sessions,
                                      .upload_limiter = config.upload_rate_per_minute > 0
                                                            ? &parts->upload_limiter
                                                            : nullptr,
                                      .trusted_proxy_hops = config.trusted_proxy_hops,
                                      .rate_limit_exempt = *std::move(exempt)});
  if (!http.ok()) return http.status();
  parts->http = *std::move(http);
  server::LogInfo("gateway backends", {{"detector", config.detector_address},
                                       {"overlay", config.overlay_address},
                                       {"storage", config.storage_address},
                                       {"storage_namespace", config.storage_namespace}});
  return std::unique_ptr<Gateway>(new Gateway(std::move(parts)));
}

int Gateway::port() const { return parts_->http->port(); }

int Gateway::admin_port() const { return parts_->admin ? parts_->admin->port() : -1; }

void Gateway::Shutdown(absl::Duration drain_delay) {
  if (parts_->http == nullptr) return;
  parts_->http->StartDraining();
  absl::SleepFor(drain_delay);
  parts_->http->Shutdown();
}

absl::Status RunGatewayProcess(const GatewayConfig& config) {
  // Before any thread exists, so that every thread inherits the mask and
  // sigwait below receives the signal.
  server::BlockTerminationSignals();
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(config);
  if (!gateway.ok()) return gateway.status();

  const int signal_number = server::WaitForTerminationSignal();
  server::LogInfo("shutting down",
                  {{"signal", strsignal(signal_number)},
                   {"grace_period_seconds", absl::ToDoubleSeconds(config.grace_period)}});
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
