// The gateway's HTTP/1.1 transport on Boost.Beast: accepts connections,
// reads requests within hard limits and deadlines, hands complete requests
// to HttpRoutes on a small pool of worker threads, writes the answers.
// All socket I/O is asynchronous on one I/O thread, so a slow or silent
// client holds no thread, only its socket and a bounded buffer.
//
// What it bounds, whatever a client sends:
//  - connections: at most `max_connections` open; beyond them the server
//    stops accepting and new ones wait in the kernel's listen backlog;
//  - time: the whole request (headers and body) must arrive within
//    `request_timeout` of its first byte (of the connection, for the first
//    request); the whole response must be taken within `write_timeout`;
//    an idle keep-alive connection closes after `keep_alive_timeout`;
//  - the head: request line (414), header fields count and total bytes
//    (431), one field's length (400), all before anything is buffered
//    beyond them;
//  - bodies: only POST /v1/images has its body read; any framing
//    (Content-Length or chunked; none means no body) stops at
//    `max_body_bytes` (413); bodies with a Content-Encoding or a transfer
//    coding other than chunked are refused (415) unread; the memory of all
//    bodies being read is bounded by `body_memory_bytes` (503 beyond);
//  - work: complete requests wait for a worker thread in a queue of at most
//    `max_waiting_requests` (503 beyond).
//
//   STACHE_ASSIGN_OR_RETURN(auto transport, HttpTransport::Start(options, &routes,
//   &metrics)); transport->Shutdown();  // stop accepting, let requests in flight finish
#ifndef STACHE_GATEWAY_INTERNAL_HTTP_TRANSPORT_H_
#define STACHE_GATEWAY_INTERNAL_HTTP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/internal/http_routes.h"
#include "gateway/metrics.h"

namespace stache::gateway::internal {

// The request line (method, target, version) is at most this long (414).
inline constexpr size_t kMaxRequestLineBytes = 8 * 1024;
// One header field line is at most this long (400).
inline constexpr size_t kMaxHeaderFieldBytes = 8 * 1024;
// The whole head (request line and header fields) is at most this (431).
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;
// Header fields in one request, as Apache's LimitRequestFields; browsers
// and curl send about a dozen (431 beyond).
inline constexpr size_t kMaxHeaderFields = 100;

struct HttpTransportOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  int64_t max_body_bytes = 20'000'000;
  int64_t body_memory_bytes = 200'000'000;
  int worker_threads = 32;
  int max_waiting_requests = 256;
  int max_connections = 512;
  absl::Duration request_timeout = absl::Seconds(60);
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration keep_alive_timeout = absl::Seconds(5);
};

class HttpTransportImpl;

// Owns the listening socket, the I/O thread and the workers. `routes` and
// `metrics` must outlive it. Thread-safe.
class HttpTransport final {
 public:
  // Binds (failing fast when the port is taken) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Start(
      const HttpTransportOptions& options, HttpRoutes* routes, GatewayMetrics* metrics);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  int port() const;
  // Stops accepting (the port refuses connections at once), closes idle
  // connections, lets requests in flight finish (each within its deadlines)
  // and returns when every connection is closed. Idempotent.
  void Shutdown();

 private:
  explicit HttpTransport(std::unique_ptr<HttpTransportImpl> impl);
  std::unique_ptr<HttpTransportImpl> impl_;
};

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_HTTP_TRANSPORT_H_
