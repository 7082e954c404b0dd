// A streaming call that opens and then sends nothing, as an attacker's idle
// stream would: for tests of the servers' stream limits and idle timeouts.
// Needs no generated stub (gRPC's generic stub), so it can open reflection
// or storage streams alike.
//
//   grpc::GenericStub stub(channel);
//   IdleStream idle(stub,
//   "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
//   std::optional<grpc::Status> ended = idle.WaitForEnd(absl::Seconds(5));
#ifndef STACHE_SERVER_TESTING_IDLE_STREAM_H_
#define STACHE_SERVER_TESTING_IDLE_STREAM_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace stache::server::testing {

// Not thread-safe. Cancels the call on destruction.
class IdleStream final {
 public:
  // Starts `method` ("/package.Service/Method") with `metadata` and no message.
  IdleStream(grpc::GenericStub& stub, const std::string& method,
             const std::multimap<std::string, std::string>& metadata = {});
  ~IdleStream();
  IdleStream(const IdleStream&) = delete;
  IdleStream& operator=(const IdleStream&) = delete;

  // Sends one raw message (serialized protobuf); false when the stream is
  // already broken.
  bool Write(const std::string& bytes);
  // The status the stream ended with, or nullopt when it is still open
  // after `timeout`.
  std::optional<grpc::Status> WaitForEnd(absl::Duration timeout);

 private:
  bool Next(void* want, absl::Duration timeout);

  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::Status status_;
  bool finished_ = false;
  bool write_pending_ = false;
};

}  // namespace stache::server::testing

#endif  // STACHE_SERVER_TESTING_IDLE_STREAM_H_
