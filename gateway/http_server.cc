#include "gateway/http_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/internal/http_routes.h"
#include "gateway/internal/http_transport.h"
#include "server/log.h"

namespace stache::gateway {

absl::Status ValidateHttpServerOptions(const HttpServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--port %d is not a TCP port (0..65535)", options.port));
  }
  if (options.max_body_bytes <= 0) {
    return absl::InvalidArgumentError("--max_body_bytes must be positive");
  }
  if (options.body_memory_bytes < options.max_body_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--http_body_memory_bytes %d is less than --max_body_bytes %d: no upload of the "
        "largest size could be read",
        options.body_memory_bytes, options.max_body_bytes));
  }
  if (options.threads < 1 || options.threads > 4096) {
    return absl::InvalidArgumentError("--http_threads must be between 1 and 4096");
  }
  if (options.max_waiting_connections < 0 || options.max_waiting_connections > 65536) {
    return absl::InvalidArgumentError(
        "--http_max_waiting_connections must be between 0 and 65536");
  }
  if (options.max_connections < 1 || options.max_connections > 65536) {
    return absl::InvalidArgumentError(
        "--http_max_connections must be between 1 and 65536");
  }
  if (options.read_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration() ||
      options.keep_alive_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--http_read_timeout, --http_write_timeout and --http_keep_alive_timeout must be "
        "positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, Gallery* gallery, StatusBoard* board,
    GatewayMetrics* metrics, VisitorGuards guards) {
  if (absl::Status status = ValidateHttpServerOptions(options); !status.ok())
    return status;
  auto routes =
      std::make_unique<internal::HttpRoutes>(gallery, board, metrics, std::move(guards));
  absl::StatusOr<std::unique_ptr<internal::HttpTransport>> transport =
      internal::HttpTransport::Start(
          {.host = options.host,
           .port = options.port,
           .max_body_bytes = options.max_body_bytes,
           .body_memory_bytes = options.body_memory_bytes,
           .worker_threads = options.threads,
           .max_waiting_requests = options.max_waiting_connections,
           .max_connections = options.max_connections,
           .request_timeout = options.read_timeout,
           .write_timeout = options.write_timeout,
           .keep_alive_timeout = options.keep_alive_timeout},
          routes.get(), metrics);
  if (!transport.ok()) return transport.status();
  const int port = (*transport)->port();
  server::LogInfo("serving http", {{"address", options.host},
                                   {"port", port},
                                   {"threads", options.threads},
                                   {"max_connections", options.max_connections},
                                   {"max_body_bytes", options.max_body_bytes}});
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(routes), *std::move(transport), port));
}

HttpServer::HttpServer(std::unique_ptr<internal::HttpRoutes> routes,
                       std::unique_ptr<internal::HttpTransport> transport, int port)
    : routes_(std::move(routes)), transport_(std::move(transport)), port_(port) {}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::StartDraining() { routes_->StartDraining(); }

void HttpServer::Shutdown() { transport_->Shutdown(); }

}  // namespace stache::gateway
