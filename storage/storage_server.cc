#include "storage/storage_server.h"

#include "storage/storage_service.h"
#include "server/status.h"

namespace stache::storage {

absl::Status RunStorageServer(const StorageServerConfig& config) {
  server::BlockTerminationSignals();
  StorageServiceImpl service;
  server::ServiceIdentity identity{
      .service_name = "storage",
      .service_names = {"stache.storage.v1.StorageService"},
      .components = {}};
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<server::GrpcServer> grpc_server,
      server::GrpcServer::Start(config.server, std::move(identity), {&service}));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::storage
