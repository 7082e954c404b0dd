// The gateway's backends over gRPC (the interfaces are gateway/backends.h):
// one small client per service, over the generated StubInterface, that puts
// a deadline (and the request id, and for storage the bearer token) on every
// call, converts grpc::Status to absl::Status and records each call in the
// metrics. Tests point them at in-process servers on port 0; production at
// MakeChannel channels.
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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/backends.h"
#include "gateway/metrics.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/info/v1/info.grpc.pb.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"
#include "stache/storage/v1/storage.grpc.pb.h"
#include "storage/storage_client.h"

namespace grpc {
class ChannelInterface;
}  // namespace grpc

namespace stache::gateway {

// stache.detector.v1.DetectorService. Thread-safe (stubs are).
class DetectorClient final : public DetectorBackend {
 public:
  DetectorClient(std::unique_ptr<detector::v1::DetectorService::StubInterface> stub,
                 GatewayMetrics* metrics);
  absl::StatusOr<detector::v1::DetectResponse> Detect(
      const CallContext& context, const detector::v1::DetectRequest& request) override;

 private:
  std::unique_ptr<detector::v1::DetectorService::StubInterface> stub_;
  GatewayMetrics* metrics_;
};

// stache.overlay.v1.OverlayService. Thread-safe.
class OverlayClient final : public OverlayBackend {
 public:
  OverlayClient(std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub,
                GatewayMetrics* metrics);
  absl::StatusOr<overlay::v1::ApplyResponse> Apply(
      const CallContext& context, const overlay::v1::ApplyRequest& request) override;
  absl::StatusOr<overlay::v1::ListStylesResponse> ListStyles(
      const CallContext& context) override;

 private:
  std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub_;
  GatewayMetrics* metrics_;
};

// stache.storage.v1.StorageService through storage's own client (chunking,
// SHA-256 both ways), confined to one namespace and authenticated with a
// bearer token. Thread-safe.
class NamespacedStorageClient final : public StorageBackend {
 public:
  NamespacedStorageClient(
      std::unique_ptr<storage::v1::StorageService::StubInterface> stub,
      std::string storage_namespace, std::string bearer_token, GatewayMetrics* metrics);

  // Streams `bytes` in chunks; the server checks the size and SHA-256 it
  // received.
  absl::StatusOr<storage::v1::ObjectInfo> Put(
      const CallContext& context, const std::string& key, const std::string& content_type,
      const std::map<std::string, std::string>& labels, absl::string_view bytes) override;
  absl::StatusOr<StoredObject> Get(const CallContext& context, const std::string& key,
                                   int64_t max_bytes) override;
  absl::StatusOr<storage::v1::ObjectInfo> Stat(const CallContext& context,
                                               const std::string& key) override;
  absl::StatusOr<storage::v1::ListResponse> List(const CallContext& context,
                                                 const std::string& key_prefix,
                                                 uint32_t page_size,
                                                 const std::string& page_token) override;
  absl::Status Delete(const CallContext& context, const std::string& key) override;

 private:
  static storage::CallOptions Options(const CallContext& call,
                                      uint64_t max_bytes = UINT64_MAX);

  storage::StorageClient client_;
  const std::string namespace_;
  GatewayMetrics* metrics_;
};

// grpc.health.v1 and stache.info.v1 of one backend. Thread-safe.
class GrpcBackendProbe final : public BackendProbe {
 public:
  GrpcBackendProbe(std::unique_ptr<info::v1::InfoService::StubInterface> info,
                   std::unique_ptr<grpc::health::v1::Health::StubInterface> health);
  // Builds both stubs on `channel`.
  explicit GrpcBackendProbe(const std::shared_ptr<grpc::ChannelInterface>& channel);

  absl::StatusOr<info::v1::GetInfoResponse> GetInfo(const CallContext& context) override;
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
      const CallContext& context, const std::string& service) override;

 private:
  std::unique_ptr<info::v1::InfoService::StubInterface> info_;
  std::unique_ptr<grpc::health::v1::Health::StubInterface> health_;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_BACKEND_CLIENTS_H_
