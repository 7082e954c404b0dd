// stache.info.v1.InfoService: who is serving (service, version, build,
// instance, uptime) and what it loaded. Served by every stache server.
//
//   ServiceIdentity identity{.service_name = "detector",
//                            .service_names = {"stache.detector.v1.DetectorService"}};
//   identity.components.push_back({"haar_frontalface", "model", path});
#ifndef STACHE_SERVER_INFO_SERVICE_H_
#define STACHE_SERVER_INFO_SERVICE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "stache/info/v1/info.grpc.pb.h"

namespace stache::server {

struct LoadedComponent {
  std::string name;
  std::string kind;
  std::string detail;
};

struct ServiceIdentity {
  // Short name, for example "detector".
  std::string service_name;
  // Fully qualified gRPC services served besides info, health and
  // reflection, for example "stache.detector.v1.DetectorService". Health is
  // reported per name, and GetInfo lists their packages.
  std::vector<std::string> service_names;
  std::vector<LoadedComponent> components;
};

// Immutable after construction, so thread-safe.
class InfoServiceImpl final : public stache::info::v1::InfoService::Service {
 public:
  explicit InfoServiceImpl(ServiceIdentity identity);

  grpc::Status GetInfo(grpc::ServerContext* context,
                       const stache::info::v1::GetInfoRequest* request,
                       stache::info::v1::GetInfoResponse* response) override;

 private:
  void Describe(stache::info::v1::GetInfoResponse* response) const;

  const ServiceIdentity identity_;
  const std::string instance_id_;
  const absl::Time start_time_;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_INFO_SERVICE_H_
