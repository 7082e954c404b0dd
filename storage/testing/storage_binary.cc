#include "storage/testing/storage_binary.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "server/grpc_server.h"

namespace stache::storage::testing {

using stache::testing::BinaryPath;
using stache::testing::ChildProcess;
using stache::testing::PickUnusedPort;
using stache::testing::PortAcceptsConnections;
using stache::testing::WaitFor;

StorageBinary::StorageBinary(std::unique_ptr<ChildProcess> process, int port)
    : process_(std::move(process)), port_(port) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(server::MaxMessageBytes(25'000'000));
  arguments.SetMaxSendMessageSize(server::MaxMessageBytes(25'000'000));
  channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials(), arguments);
}

absl::StatusOr<std::unique_ptr<StorageBinary>> StorageBinary::Start(
    const std::vector<std::string>& flags,
    const std::map<std::string, std::string>& env) {
  const int port = PickUnusedPort();
  std::vector<std::string> argv = {BinaryPath("stache-storage"), "--host=127.0.0.1",
                                   absl::StrCat("--port=", port)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto process = std::make_unique<ChildProcess>(argv, env);
  const bool serving =
      WaitFor([&] { return PortAcceptsConnections(port) || !process->Running(); },
              absl::Seconds(20));
  if (!serving || !process->Running()) {
    return absl::UnavailableError(
        absl::StrCat("stache-storage did not start:\n", process->Output()));
  }
  return std::unique_ptr<StorageBinary>(new StorageBinary(std::move(process), port));
}

StorageClient StorageBinary::Client(const std::string& token) const {
  return StorageClient(v1::StorageService::NewStub(channel_), {.token = token});
}

}  // namespace stache::storage::testing
