// Runs the storage service as a process: config in, serve until SIGTERM.
//
//   StorageProcessConfig config{.server = ServerConfigFromFlags(port),
//                              .data_dir = "./data/storage"};
//   return RunStorageProcess(config).ok() ? 0 : 1;
#ifndef STACHE_STORAGE_STORAGE_PROCESS_H_
#define STACHE_STORAGE_STORAGE_PROCESS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/grpc_server.h"
#include "storage/blob_store.h"
#include "storage/namespace_policy.h"
#include "storage/s3_credentials.h"

namespace stache::storage {

struct StorageProcessConfig {
  server::ServerConfig server;
  std::string backend = "local";  // "local" or "s3"
  // local: where objects live. s3: scratch space for uploads in flight.
  std::string data_dir = "./data/storage";
  uint64_t max_object_bytes = kDefaultMaxObjectBytes;
  std::string s3_endpoint;
  std::string s3_bucket;
  std::string s3_region = "us-east-1";
  // Secrets: from the environment, never from flags.
  S3Credentials s3_credentials;
  // At most one of these, and not empty when set (an empty setting is a
  // mistake, never "use the default"). Neither: the development default
  // (NamespacePolicy::DevelopmentDefault), which only a loopback listener
  // accepts, or any listener with insecure_dev_auth.
  std::optional<std::string> auth_policy_file;
  std::optional<std::string> auth_policy_json;  // STACHE_STORAGE_AUTH_POLICY
  bool insecure_dev_auth = false;               // --insecure_dev_auth
};

// Rejects impossible values with a message naming the flag.
absl::Status ValidateStorageProcessConfig(const StorageProcessConfig& config);

// The backend the config names, opened (and recovered, or reached).
absl::StatusOr<std::unique_ptr<BlobStore>> OpenBlobStore(
    const StorageProcessConfig& config);

// The configured policy; `source` says where it came from, for logs and
// GetInfo ("file <path>", "environment", "development default"). Fails when
// none is configured and the server listens beyond loopback (without
// insecure_dev_auth), and when the policy names callers by client
// certificate but the server does not require verified ones.
absl::StatusOr<NamespacePolicy> LoadNamespacePolicy(const StorageProcessConfig& config,
                                                    std::string* source);

// Blocks until SIGTERM/SIGINT. Fails fast on bad config, an unusable data
// dir or bucket, a bad auth policy, or a busy port.
absl::Status RunStorageProcess(const StorageProcessConfig& config);

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_PROCESS_H_
