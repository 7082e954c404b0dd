// The HTTP adapter: the REST API (/v1/...), the web page, health and
// readiness (metrics are on the admin port). Routes (gateway/internal/http_routes.h) only
// translate: HTTP in, Gallery / StatusBoard calls, HTTP out; errors go through the one
// gRPC-to-HTTP table in http_errors.h. The transport
// (gateway/internal/http_transport.h, Boost.Beast) reads requests with
// asynchronous I/O within hard limits and deadlines, so hostile or slow
// clients hold no thread and bounded memory, and runs handlers on a small
// pool of threads.
//
//   STACHE_ASSIGN_OR_RETURN(auto http, HttpServer::Start(options, &gallery, &board,
//   &metrics,
//                                                         {.sessions = &signer}));
//   ...  // serve until told to stop
//   http->Shutdown();  // in-flight requests finish
#ifndef STACHE_GATEWAY_HTTP_SERVER_H_
#define STACHE_GATEWAY_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/client_address.h"
#include "gateway/gallery.h"
#include "gateway/http_server_options.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"
#include "gateway/session.h"
#include "gateway/status_board.h"

namespace stache::gateway {
namespace internal {
class HttpRoutes;
class HttpTransport;
}  // namespace internal

// Who a visitor is and what they may do: sessions, CSRF, the upload rate
// limit. The pointers are not owned and must outlive the server.
struct VisitorGuards {
  // Signs and checks the session cookie; null: no sessions (every request
  // is anonymous and no cookie is set).
  const SessionSigner* sessions = nullptr;
  // Uploads per client address; null: no limit.
  RateLimiter* upload_limiter = nullptr;
  // X-Forwarded-For and X-Forwarded-Proto are believed through this many
  // proxies in front of the gateway (a load balancer is one); 0: neither.
  int trusted_proxy_hops = 0;
  // Clients the limit never applies to, besides loopback ones.
  IpNetworks rate_limit_exempt;
};

// Owns the listening socket, its I/O thread and the handler threads. The
// gallery, board and metrics must outlive it. Thread-safe.
class HttpServer final {
 public:
  // Binds (failing fast when the port is taken) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, Gallery* gallery, StatusBoard* board,
      GatewayMetrics* metrics, VisitorGuards guards = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

  // /readyz and /livez answer 503 from now on; requests are still served.
  void StartDraining();

  // Stops accepting connections (the port refuses them at once), closes
  // idle ones and waits for the requests in flight to finish.
  void Shutdown();

 private:
  HttpServer(std::unique_ptr<internal::HttpRoutes> routes,
             std::unique_ptr<internal::HttpTransport> transport, int port);

  // Declared first so that it is destroyed last: the transport calls it.
  std::unique_ptr<internal::HttpRoutes> routes_;
  std::unique_ptr<internal::HttpTransport> transport_;
  const int port_;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_HTTP_SERVER_H_
