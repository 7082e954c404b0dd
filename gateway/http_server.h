// The HTTP adapter: the REST API (/v1/...), the web page, health, readiness
// and metrics, served by cpp-httplib from a bounded thread pool. Handlers
// only translate: HTTP in, Gallery / StatusBoard calls, HTTP out; errors go
// through the one gRPC-to-HTTP table in http_errors.h.
//
//   STACHE_ASSIGN_OR_RETURN(auto http, HttpServer::Start(options, &gallery, &board, &metrics));
//   ...  // serve until told to stop
//   http->Shutdown();  // in-flight requests finish
#ifndef STACHE_GATEWAY_HTTP_SERVER_H_
#define STACHE_GATEWAY_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/gallery.h"
#include "gateway/metrics.h"
#include "gateway/status_board.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace stache::gateway {
namespace internal {
class HttpRoutes;
}  // namespace internal

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;  // 0 picks a free port (tests)
  // Larger request bodies get 413 before they are read.
  int64_t max_body_bytes = 20'000'000;
  // Connections are served by this many threads; a slow client holds one.
  int threads = 32;
  // Accepted connections waiting for a thread; beyond them the server stops
  // accepting and further ones wait in the kernel's listen backlog, so a
  // flood of connections costs bounded memory.
  int max_waiting_connections = 256;
  // A client that sends (or takes) nothing for this long is disconnected.
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration keep_alive_timeout = absl::Seconds(5);
};

absl::Status ValidateHttpServerOptions(const HttpServerOptions& options);

// Owns the listening socket and its threads. The gallery, board and metrics
// must outlive it. Thread-safe.
class HttpServer final {
 public:
  // Binds (failing fast when the port is taken) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           Gallery* gallery,
                                                           StatusBoard* board,
                                                           GatewayMetrics* metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

  // /readyz answers 503 from now on; requests are still served.
  void StartDraining();

  // Stops accepting connections and waits for the requests in flight (and
  // idle keep-alive connections, at most keep_alive_timeout) to finish.
  void Shutdown();

 private:
  HttpServer(std::unique_ptr<internal::HttpRoutes> routes,
             std::unique_ptr<httplib::Server> server, int port);

  // Declared first so that it is destroyed last: the handlers point to it.
  std::unique_ptr<internal::HttpRoutes> routes_;
  std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread listener_;
  bool stopped_ = false;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_HTTP_SERVER_H_
