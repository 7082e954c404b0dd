// Who is serving and whether they are well: GET /v1/info (on the admin
// port: the gateway and every backend instance it can reach, by address,
// for watching a rolling update; on the public port only versions and
// instance counts, PublicInfoFrom) and GET /readyz (every backend answers
// its health check with SERVING and accepts a call: a backend that refuses
// work is not ready).
//
//   StatusBoard board(identity, /*max_body_bytes=*/20'000'000,
//                     {{.name = "detector",
//                       .target = "dns:///detector:50051",
//                       .health_service = "stache.detector.v1.DetectorService",
//                       .probe = &detector_probe}},
//                     probe_for_address, /*probe_timeout=*/absl::Seconds(2));
//   nlohmann::json info = board.Info(server::RequestContext::FromIncoming("req-1", ""));
//
// The probes are gateway/backends.h interfaces (gRPC clients in production).
#ifndef STACHE_GATEWAY_STATUS_BOARD_H_
#define STACHE_GATEWAY_STATUS_BOARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/backends.h"
#include "gateway/instance_identity.h"
#include "nlohmann/json.hpp"
#include "server/request_context.h"

namespace stache::gateway {

struct BackendTarget {
  // "detector", "overlay" or "storage".
  std::string name;
  // The gRPC target as configured.
  std::string target;
  // The service name whose health decides readiness.
  std::string health_service;
  // Over the balanced channel the gateway uses for real calls. Not owned.
  BackendProbe* probe = nullptr;
};

// Makes a probe talking to one resolved address ("10.0.1.7:50051") of a
// backend's `target` ("dns:///detector:50051"): over TLS the address is not
// the name the backend's certificate carries, the target's host is.
using ProbeFactory = std::function<std::unique_ptr<BackendProbe>(
    const std::string& target, const std::string& address)>;

struct Readiness {
  bool ready = false;
  // {"detector": "SERVING", "storage": "UNAVAILABLE: ...", ...}
  nlohmann::json backends;
};

// Thread-safe.
class StatusBoard final {
 public:
  // `max_body_bytes` is shown in the gateway's info, so the web page can
  // refuse a photo that is too large before sending it.
  StatusBoard(InstanceIdentity identity, int64_t max_body_bytes,
              std::vector<BackendTarget> backends, ProbeFactory probe_factory,
              absl::Duration probe_timeout);

  // {"gateway": {...}, "backends": [{"name": "detector", "target", "address",
  // "health", "service_name", "version", "instance_id", ...}, ...]}: one entry
  // per backend instance. Each address a target resolves to is asked for
  // GetInfo and health, in parallel, each call bounded by the probe timeout;
  // a replica answering through several addresses is listed once, and an
  // unreachable address only when no replica of that backend answered.
  // For the admin port: it names addresses and targets.
  nlohmann::json Info(const server::RequestContext& request_context);

  // PublicInfoFrom(Info(request_context)): for anyone.
  nlohmann::json PublicInfo(const server::RequestContext& request_context);

  Readiness CheckReadiness(const server::RequestContext& request_context);

 private:
  std::shared_ptr<BackendProbe> ProbeFor(const BackendTarget& backend,
                                         const std::string& address);
  nlohmann::json DescribeAddress(const BackendTarget& backend, const std::string& address,
                                 const server::RequestContext& request_context);

  const InstanceIdentity identity_;
  const int64_t max_body_bytes_;
  const absl::Time start_time_;
  const std::vector<BackendTarget> backends_;
  const ProbeFactory probe_factory_;
  const absl::Duration probe_timeout_;
  absl::Mutex mutex_;
  // Channels are reused across calls; bounded, see ProbeFor.
  std::map<std::string, std::shared_ptr<BackendProbe>> probes_ ABSL_GUARDED_BY(mutex_);
};

// What anyone may see of an Info answer: the gateway's version, health and
// upload limit, and per backend one entry per version and health with how
// many instances answered ({"name", "service_name", "version", "build_id",
// "health", "instances"}). No addresses, targets, instance ids, zones,
// errors or components: those are for operators (the admin port).
nlohmann::json PublicInfoFrom(const nlohmann::json& info);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_STATUS_BOARD_H_
