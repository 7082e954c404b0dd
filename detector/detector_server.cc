#include "detector/detector_server.h"

#include "detector/detector_service.h"
#include "server/status.h"

namespace stache::detector {

absl::Status RunDetectorServer(const DetectorServerConfig& config) {
  server::BlockTerminationSignals();
  DetectorServiceImpl service;
  server::ServiceIdentity identity{
      .service_name = "detector",
      .service_names = {"stache.detector.v1.DetectorService"},
      .components = {}};
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<server::GrpcServer> grpc_server,
      server::GrpcServer::Start(config.server, std::move(identity), {&service}));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::detector
