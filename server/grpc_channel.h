// Client channels to stache services, configured once for every caller:
// message limits that fit the largest image, client-side round-robin across
// every address the target resolves to, bounded reconnect backoff, and
// retries (with backoff, on UNAVAILABLE) for the idempotent RPCs only; TLS
// when the caller was given TLS files (server/tls.h).
//
//   std::shared_ptr<grpc::Channel> channel =
//       MakeChannel("dns:///detector:50051", config.max_image_bytes, tls);
//   auto stub = stache::detector::v1::DetectorService::NewStub(channel);
#ifndef STACHE_SERVER_GRPC_CHANNEL_H_
#define STACHE_SERVER_GRPC_CHANNEL_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "server/tls.h"

namespace stache::server {

// The gRPC service config every stache client channel uses (JSON): the
// round_robin load balancing policy and a retryPolicy for the idempotent
// methods (Detect, ListStyles, Stat, Get, List, GetInfo). Exposed so that
// tests and docs can show it.
const std::string& ClientServiceConfigJson();

// A channel to `target` ("host:port", "dns:///name:port", "ipv4:a:p,b:p",
// ...), whose send and receive limits fit an image of `max_image_bytes`
// (see MaxMessageBytes). Plaintext when `tls` is empty (LoadClientTls of no
// files); otherwise TLS only, the server verified against tls.ca_pem and
// its certificate checked for the target's host name (or tls.server_name),
// presenting tls.cert_pem when set. Never fails: connection and handshake
// problems show up as UNAVAILABLE on the calls.
std::shared_ptr<grpc::Channel> MakeChannel(absl::string_view target,
                                           int64_t max_image_bytes,
                                           const TlsMaterial& tls = {});

}  // namespace stache::server

#endif  // STACHE_SERVER_GRPC_CHANNEL_H_
