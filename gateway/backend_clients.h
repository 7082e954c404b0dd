// The gateway's view of its backends: one small client per gRPC service, over
// the generated StubInterface, that puts a deadline (and the request id, and
// for storage the bearer token) on every call, converts grpc::Status to
// absl::Status and records each call in the metrics. Tests point them at
// in-process servers on port 0; production at MakeChannel channels.
//
//   DetectorClient detector(DetectorService::NewStub(channel), &metrics);
//   STACHE_ASSIGN_OR_RETURN(DetectResponse faces,
//                           detector.Detect(CallContext::WithTimeout(absl::Seconds(10)),
//                                           request));
#ifndef STACHE_GATEWAY_BACKEND_CLIENTS_H_
#define STACHE_GATEWAY_BACKEND_CLIENTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/metrics.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/request_context.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/info/v1/info.grpc.pb.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"
#include "stache/storage/v1/storage.grpc.pb.h"
#include "storage/storage_client.h"

namespace grpc {
class ChannelInterface;
}  // namespace grpc

namespace stache::gateway {

// What travels with one HTTP request to every backend call it makes.
struct CallContext {
  // Absolute deadline of each backend call made for the request.
  absl::Time deadline = absl::InfiniteFuture();
  // The request's id and trace context, sent as "x-request-id" and (as a
  // child span) "traceparent" metadata so that backend logs join the
  // gateway's. Empty for calls made for no request.
  server::RequestContext request_context;

  static CallContext WithTimeout(absl::Duration timeout,
                                 server::RequestContext request_context = {}) {
    return CallContext{.deadline = absl::Now() + timeout,
                       .request_context = std::move(request_context)};
  }
};

// stache.detector.v1.DetectorService. Thread-safe (stubs are).
class DetectorClient final {
 public:
  DetectorClient(std::unique_ptr<detector::v1::DetectorService::StubInterface> stub,
                 GatewayMetrics* metrics);
  absl::StatusOr<detector::v1::DetectResponse> Detect(
      const CallContext& context, const detector::v1::DetectRequest& request);

 private:
  std::unique_ptr<detector::v1::DetectorService::StubInterface> stub_;
  GatewayMetrics* metrics_;
};

// stache.overlay.v1.OverlayService. Thread-safe.
class OverlayClient final {
 public:
  OverlayClient(std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub,
                GatewayMetrics* metrics);
  absl::StatusOr<overlay::v1::ApplyResponse> Apply(
      const CallContext& context, const overlay::v1::ApplyRequest& request);
  absl::StatusOr<overlay::v1::ListStylesResponse> ListStyles(const CallContext& context);

 private:
  std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub_;
  GatewayMetrics* metrics_;
};

using StoredObject = storage::StoredObject;

// stache.storage.v1.StorageService through storage's own client (chunking,
// SHA-256 both ways), confined to one namespace and authenticated with a
// bearer token. Thread-safe.
class NamespacedStorageClient final {
 public:
  NamespacedStorageClient(
      std::unique_ptr<storage::v1::StorageService::StubInterface> stub,
      std::string storage_namespace, std::string bearer_token, GatewayMetrics* metrics);

  // Streams `bytes` in chunks; the server checks the size and SHA-256 it
  // received.
  absl::StatusOr<storage::v1::ObjectInfo> Put(
      const CallContext& context, const std::string& key, const std::string& content_type,
      const std::map<std::string, std::string>& labels, absl::string_view bytes);
  // Fails with RESOURCE_EXHAUSTED (and stops reading) when the object is
  // larger than `max_bytes`; DATA_LOSS when its bytes do not match their
  // SHA-256.
  absl::StatusOr<StoredObject> Get(const CallContext& context, const std::string& key,
                                   int64_t max_bytes);
  absl::StatusOr<storage::v1::ObjectInfo> Stat(const CallContext& context,
                                               const std::string& key);
  absl::StatusOr<storage::v1::ListResponse> List(const CallContext& context,
                                                 const std::string& key_prefix,
                                                 uint32_t page_size,
                                                 const std::string& page_token);
  absl::Status Delete(const CallContext& context, const std::string& key);

  const std::string& storage_namespace() const { return namespace_; }

 private:
  static storage::CallOptions Options(const CallContext& call,
                                      uint64_t max_bytes = UINT64_MAX);

  storage::StorageClient client_;
  const std::string namespace_;
  GatewayMetrics* metrics_;
};

// Health and identity of one backend (one address or a balanced target).
// Thread-safe.
class BackendProbe final {
 public:
  BackendProbe(std::unique_ptr<info::v1::InfoService::StubInterface> info,
               std::unique_ptr<grpc::health::v1::Health::StubInterface> health);
  // Builds both stubs on `channel`.
  explicit BackendProbe(const std::shared_ptr<grpc::ChannelInterface>& channel);

  absl::StatusOr<info::v1::GetInfoResponse> GetInfo(const CallContext& context);
  // grpc.health.v1 Check of `service` ("" for the server as a whole).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
      const CallContext& context, const std::string& service);

 private:
  std::unique_ptr<info::v1::InfoService::StubInterface> info_;
  std::unique_ptr<grpc::health::v1::Health::StubInterface> health_;
};

// The "host:port" addresses a gRPC target resolves to now (DNS A/AAAA
// records), so that /v1/info can ask every replica. Accepts "host:port",
// "dns:///host:port" and "[v6]:port"; other schemes (ipv4:, unix:) come back
// as the target itself. At most `max_addresses`.
std::vector<std::string> ResolveTargetAddresses(const std::string& target,
                                                size_t max_addresses = 16);

// The host a target names, which a backend's TLS certificate carries:
// "dns:///detector:50051" and "detector:50051" -> "detector", "[::1]:1" ->
// "::1"; "" for targets that name none ("ipv4:10.0.0.1:1,...", "unix:...").
std::string TargetHost(absl::string_view target);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_BACKEND_CLIENTS_H_
