// Client channels to stache services, configured once for every caller:
// message limits that fit the largest image, client-side round-robin across
// every address the target resolves to, bounded reconnect backoff, and
// retries (with backoff, on UNAVAILABLE) for the idempotent RPCs only.
//
//   std::shared_ptr<grpc::Channel> channel =
//       MakeChannel("dns:///detector:50051", config.max_image_bytes);
//   auto stub = stache::detector::v1::DetectorService::NewStub(channel);
#ifndef STACHE_SERVER_GRPC_CHANNEL_H_
#define STACHE_SERVER_GRPC_CHANNEL_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace stache::server {

// The gRPC service config every stache client channel uses (JSON): the
// round_robin load balancing policy and a retryPolicy for the idempotent
// methods (Detect, ListStyles, Stat, Get, List, GetInfo). Exposed so that
// tests and docs can show it.
const std::string& ClientServiceConfigJson();

// An insecure channel to `target` ("host:port", "dns:///name:port",
// "ipv4:a:p,b:p", ...), whose send and receive limits fit an image of
// `max_image_bytes` (see MaxMessageBytes). Never fails: connection problems
// show up as UNAVAILABLE on the calls.
std::shared_ptr<grpc::Channel> MakeChannel(absl::string_view target,
                                           int64_t max_image_bytes);

}  // namespace stache::server

#endif  // STACHE_SERVER_GRPC_CHANNEL_H_
