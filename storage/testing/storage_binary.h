// The real stache-storage binary as a child process, for tests that need a
// whole server: start-up flags, crashes (SIGKILL) and restarts.
//
//   absl::StatusOr<std::unique_ptr<StorageBinary>> server =
//       StorageBinary::Start({"--data_dir=" + dir});
//   StorageClient client = (*server)->Client(kDevelopmentToken);
#ifndef STACHE_STORAGE_TESTING_STORAGE_BINARY_H_
#define STACHE_STORAGE_TESTING_STORAGE_BINARY_H_

#include <grpcpp/channel.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/storage_client.h"
#include "tests/testing/process.h"

namespace stache::storage::testing {

class StorageBinary final {
 public:
  // Starts stache-storage on a free loopback port with `flags` and `env`
  // and waits until it accepts connections; the error carries its output
  // when it exits instead.
  static absl::StatusOr<std::unique_ptr<StorageBinary>> Start(
      const std::vector<std::string>& flags,
      const std::map<std::string, std::string>& env = {});

  int port() const { return port_; }
  stache::testing::ChildProcess& process() { return *process_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  StorageClient Client(const std::string& token) const;

 private:
  StorageBinary(std::unique_ptr<stache::testing::ChildProcess> process, int port);

  std::unique_ptr<stache::testing::ChildProcess> process_;
  int port_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace stache::storage::testing

#endif  // STACHE_STORAGE_TESTING_STORAGE_BINARY_H_
