#include "overlay/overlay_server.h"

#include "overlay/overlay_service.h"
#include "server/status.h"

namespace stache::overlay {

absl::Status RunOverlayServer(const OverlayServerConfig& config) {
  server::BlockTerminationSignals();
  OverlayServiceImpl service;
  server::ServiceIdentity identity{
      .service_name = "overlay",
      .service_names = {"stache.overlay.v1.OverlayService"},
      .components = {}};
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<server::GrpcServer> grpc_server,
      server::GrpcServer::Start(config.server, std::move(identity), {&service}));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::overlay
