#include "server/grpc_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "server/grpc_server.h"

namespace stache::server {

const std::string& ClientServiceConfigJson() {
  // Retries are transparent only for calls that can safely run twice. Apply
  // is a pure function of its request, so it is retried like Detect; Put
  // replaces the object at its key, so the same Put twice leaves the same
  // object (storage.proto promises it), and gRPC replays its buffered stream
  // when a replica closes the connection under it (a rolling update, a
  // connection reaching its maximum age). Delete is left out: a second
  // Delete of a deleted object is NOT_FOUND. Retries happen on
  // UNAVAILABLE only (the peer never saw the call or went away, as when a
  // replica drains during a rolling update), at most 5 attempts within
  // about 0.75 s of (randomised) backoff, so that a probe with a one-second
  // deadline still reports the peer unavailable; the call's deadline bounds
  // them all.
  static const std::string* const kConfig = new std::string(R"json({
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""},
  "methodConfig": [{
    "name": [
      {"service": "stache.detector.v1.DetectorService", "method": "Detect"},
      {"service": "stache.overlay.v1.OverlayService", "method": "Apply"},
      {"service": "stache.overlay.v1.OverlayService", "method": "ListStyles"},
      {"service": "stache.storage.v1.StorageService", "method": "Put"},
      {"service": "stache.storage.v1.StorageService", "method": "Stat"},
      {"service": "stache.storage.v1.StorageService", "method": "Get"},
      {"service": "stache.storage.v1.StorageService", "method": "List"},
      {"service": "stache.info.v1.InfoService", "method": "GetInfo"}
    ],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json");
  return *kConfig;
}

std::shared_ptr<grpc::Channel> MakeChannel(absl::string_view target,
                                           int64_t max_image_bytes,
                                           const TlsMaterial& tls) {
  grpc::ChannelArguments args;
  const int max_message_bytes = MaxMessageBytes(max_image_bytes);
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetServiceConfigJSON(ClientServiceConfigJson());
  // A retry replays the request, so gRPC buffers it; the default buffer
  // (256 KiB) would silently turn retries off for any real photo.
  args.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE, max_message_bytes);
  // gRPC's default reconnect backoff grows to two minutes; a restarted
  // backend in the same cluster should be used again within seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // When a replica goes away, the DNS name is resolved again to find its
  // replacement; gRPC's default waits 30 s between resolutions, which would
  // leave a single-replica service unreachable that long during a rollout.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      MakeChannelCredentials(tls, &args);
  return grpc::CreateCustomChannel(std::string(target), credentials, args);
}

}  // namespace stache::server
