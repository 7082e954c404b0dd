// stache-storage: stores each service's objects in its own namespaces.
#include "absl/flags/flag.h"
#include "storage/storage_server.h"
#include "server/flags.h"
#include "server/log.h"

ABSL_FLAG(int, port, 50053, "gRPC port to listen on.");

int main(int argc, char** argv) {
  stache::server::SetLogService("storage");
  stache::server::ParseFlags(argc, argv, "stache-storage: stores each service's objects in its own namespaces.");
  stache::storage::StorageServerConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port))};
  if (absl::Status status = stache::storage::RunStorageServer(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
