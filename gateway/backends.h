// The gateway's backends as its core sees them: one interface per service,
// in the services' own protobuf messages and absl::Status, with no gRPC. The
// gallery and the status board are written against these; the gRPC clients
// in gateway/backend_clients.h implement them, and a test may pass any other
// implementation.
//
//   absl::StatusOr<detector::v1::DetectResponse> faces = detector->Detect(
//       CallContext::WithTimeout(absl::Seconds(10), request_context), request);
#ifndef STACHE_GATEWAY_BACKENDS_H_
#define STACHE_GATEWAY_BACKENDS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "server/request_context.h"
#include "stache/detector/v1/detector.pb.h"
#include "stache/info/v1/info.pb.h"
#include "stache/overlay/v1/overlay.pb.h"
#include "stache/storage/v1/storage.pb.h"
#include "storage/stored_object.h"

namespace stache::gateway {

// What travels with one HTTP request to every backend call it makes.
struct CallContext {
  // Absolute deadline of each backend call made for the request.
  absl::Time deadline = absl::InfiniteFuture();
  // The request's id and trace context, sent on with each call (as a child
  // span) so that backend logs join the gateway's. Empty for calls made for
  // no request.
  server::RequestContext request_context;

  static CallContext WithTimeout(absl::Duration timeout,
                                 server::RequestContext request_context = {}) {
    return CallContext{.deadline = absl::Now() + timeout,
                       .request_context = std::move(request_context)};
  }
};

// stache.detector.v1.DetectorService. Implementations are thread-safe.
class DetectorBackend {
 public:
  virtual ~DetectorBackend() = default;
  virtual absl::StatusOr<detector::v1::DetectResponse> Detect(
      const CallContext& context, const detector::v1::DetectRequest& request) = 0;
};

// stache.overlay.v1.OverlayService. Implementations are thread-safe.
class OverlayBackend {
 public:
  virtual ~OverlayBackend() = default;
  virtual absl::StatusOr<overlay::v1::ApplyResponse> Apply(
      const CallContext& context, const overlay::v1::ApplyRequest& request) = 0;
  virtual absl::StatusOr<overlay::v1::ListStylesResponse> ListStyles(
      const CallContext& context) = 0;
};

using StoredObject = storage::StoredObject;

// stache.storage.v1.StorageService, confined to the gateway's namespace.
// Implementations are thread-safe and check every object's size and SHA-256
// both ways.
class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  virtual absl::StatusOr<storage::v1::ObjectInfo> Put(
      const CallContext& context, const std::string& key, const std::string& content_type,
      const std::map<std::string, std::string>& labels, absl::string_view bytes) = 0;
  // RESOURCE_EXHAUSTED (and the transfer stopped) when the object is larger
  // than `max_bytes`; DATA_LOSS when its bytes do not match their SHA-256.
  virtual absl::StatusOr<StoredObject> Get(const CallContext& context,
                                           const std::string& key, int64_t max_bytes) = 0;
  virtual absl::StatusOr<storage::v1::ObjectInfo> Stat(const CallContext& context,
                                                       const std::string& key) = 0;
  virtual absl::StatusOr<storage::v1::ListResponse> List(
      const CallContext& context, const std::string& key_prefix, uint32_t page_size,
      const std::string& page_token) = 0;
  virtual absl::Status Delete(const CallContext& context, const std::string& key) = 0;
};

// Health and identity of one backend (one address or a balanced target).
// Implementations are thread-safe.
class BackendProbe {
 public:
  virtual ~BackendProbe() = default;
  virtual absl::StatusOr<info::v1::GetInfoResponse> GetInfo(
      const CallContext& context) = 0;
  // grpc.health.v1 Check of `service` ("" for the server as a whole).
  virtual absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
  CheckHealth(const CallContext& context, const std::string& service) = 0;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_BACKENDS_H_
