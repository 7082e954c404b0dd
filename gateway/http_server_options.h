// What the gateway's HTTP server listens on and how it bounds its clients:
// part of GatewayConfig (as `http`), and what HttpServer::Start takes.
#ifndef STACHE_GATEWAY_HTTP_SERVER_OPTIONS_H_
#define STACHE_GATEWAY_HTTP_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace stache::gateway {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0 picks a free port (tests)
  // Larger request bodies get 413, before they are read when the client
  // says their length, as soon as they pass it when chunked.
  int64_t max_body_bytes = 20'000'000;
  // Request bodies held in memory by all connections together; an upload
  // that would pass it gets 503 (Retry-After).
  int64_t body_memory_bytes = 200'000'000;
  // Threads running handlers (which wait for the backends). Reading and
  // writing are asynchronous: a slow client holds none.
  int threads = 32;
  // Requests read in full and waiting for a handler thread; beyond them
  // 503 (Retry-After).
  int max_waiting_connections = 256;
  // Open connections; beyond them the server stops accepting and new ones
  // wait in the kernel's listen backlog, so a flood costs bounded memory.
  int max_connections = 512;
  // The whole request, head and body, must arrive within this (counted
  // from its first byte; from the connection's start for the first one);
  // a client that takes longer is disconnected, however it trickles.
  absl::Duration read_timeout = absl::Seconds(60);
  // The whole response must be taken within this.
  absl::Duration write_timeout = absl::Seconds(30);
  // An idle keep-alive connection closes after this.
  absl::Duration keep_alive_timeout = absl::Seconds(5);
};

absl::Status ValidateHttpServerOptions(const HttpServerOptions& options);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_HTTP_SERVER_OPTIONS_H_
