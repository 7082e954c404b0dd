// Runs the storage service as a process: config in, serve until SIGTERM.
//
//   StorageServerConfig config{.server = ServerConfigFromFlags(port)};
//   return RunStorageServer(config).ok() ? 0 : 1;
#ifndef STACHE_STORAGE_STORAGE_SERVER_H_
#define STACHE_STORAGE_STORAGE_SERVER_H_

#include "absl/status/status.h"
#include "server/grpc_server.h"

namespace stache::storage {

struct StorageServerConfig {
  server::ServerConfig server;
};

// Blocks until SIGTERM/SIGINT. Fails fast on bad config or a busy port.
absl::Status RunStorageServer(const StorageServerConfig& config);

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_SERVER_H_
