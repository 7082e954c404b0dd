// Fake detector, overlay and storage services for the gateway's tests: real
// gRPC servers on 127.0.0.1 port 0 (with health and info, through
// server::GrpcServer) whose logic is small, in memory and steerable.
//
//   FakeBackends backends;
//   backends.detector().SetFaces({FakeFace(10, 20, 100, 100)});
//   GatewayConfig config = backends.GatewayConfigForTest();
//   auto gateway = Gateway::Start(config);
#ifndef STACHE_GATEWAY_TESTING_FAKE_BACKENDS_H_
#define STACHE_GATEWAY_TESTING_FAKE_BACKENDS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gateway/gateway_process.h"
#include "server/grpc_server.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"
#include "stache/storage/v1/storage.grpc.pb.h"

namespace stache::gateway::testing {

inline constexpr char kFakeStorageToken[] = "test-token";

// A face with a box and landmarks inside it.
detector::v1::Face FakeFace(float x, float y, float width, float height);

// Finds the faces it is told to; optionally fails or blocks.
class FakeDetector final : public detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext* context,
                      const detector::v1::DetectRequest* request,
                      detector::v1::DetectResponse* response) override;

  void SetFaces(std::vector<detector::v1::Face> faces);
  void FailWith(absl::Status status);
  // Detect blocks until Release (or 10 s); `Entered` fires when one is
  // waiting.
  void BlockCalls();
  void Release();
  // Detect throws from now on (gRPC answers UNKNOWN), as a backend with a
  // bug would.
  void ThrowInDetect() { throw_ = true; }
  absl::Notification& entered() { return entered_; }

  int calls() const { return calls_.load(); }
  std::string last_request_id() const;
  std::string last_traceparent() const;

 private:
  mutable absl::Mutex mutex_;
  std::vector<detector::v1::Face> faces_ ABSL_GUARDED_BY(mutex_);
  absl::Status failure_ ABSL_GUARDED_BY(mutex_);
  bool block_ ABSL_GUARDED_BY(mutex_) = false;
  std::string last_request_id_ ABSL_GUARDED_BY(mutex_);
  std::string last_traceparent_ ABSL_GUARDED_BY(mutex_);
  absl::Notification entered_;
  absl::Notification release_;
  std::atomic<int> calls_{0};
  std::atomic<bool> throw_{false};
};

// Knows the styles "handlebar" and "pencil". Apply "draws" by appending
// "+stache(<style>)" to the image bytes, so tests can tell a result from an
// original; the content type follows the requested format.
class FakeOverlay final : public overlay::v1::OverlayService::Service {
 public:
  grpc::Status Apply(grpc::ServerContext* context,
                     const overlay::v1::ApplyRequest* request,
                     overlay::v1::ApplyResponse* response) override;
  grpc::Status ListStyles(grpc::ServerContext* context,
                          const overlay::v1::ListStylesRequest* request,
                          overlay::v1::ListStylesResponse* response) override;
  int apply_calls() const { return apply_calls_.load(); }

 private:
  std::atomic<int> apply_calls_{0};
};

// Objects in memory, per namespace; checks the bearer token and that the
// token's namespace is "gateway"; lists newest first with offset page
// tokens; digests are real SHA-256, which the storage client checks.
class FakeStorage final : public storage::v1::StorageService::Service {
 public:
  grpc::Status Put(grpc::ServerContext* context,
                   grpc::ServerReader<storage::v1::PutRequest>* reader,
                   storage::v1::PutResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const storage::v1::GetRequest* request,
                   grpc::ServerWriter<storage::v1::GetResponse>* writer) override;
  grpc::Status Stat(grpc::ServerContext* context, const storage::v1::StatRequest* request,
                    storage::v1::StatResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const storage::v1::ListRequest* request,
                    storage::v1::ListResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context,
                      const storage::v1::DeleteRequest* request,
                      storage::v1::DeleteResponse* response) override;

  // Keys stored in the "gateway" namespace.
  std::vector<std::string> Keys() const;
  bool Contains(const std::string& key) const;
  // Fails every call of `method` ("Put", "Get", ...) from now on.
  void FailMethod(const std::string& method, absl::Status status);

 private:
  struct Object {
    storage::v1::ObjectInfo info;
    std::string bytes;
    uint64_t sequence = 0;
  };
  grpc::Status Check(grpc::ServerContext* context, const std::string& method,
                     const std::string& storage_namespace);

  mutable absl::Mutex mutex_;
  std::map<std::string, Object> objects_ ABSL_GUARDED_BY(mutex_);  // by namespace/key
  std::map<std::string, absl::Status> failures_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mutex_) = 1;
};

// The three fakes, each on its own server, started in the constructor.
class FakeBackends final {
 public:
  FakeBackends();
  ~FakeBackends();

  FakeDetector& detector() { return detector_; }
  FakeOverlay& overlay() { return overlay_; }
  FakeStorage& storage() { return storage_; }

  std::string detector_address() const;
  std::string overlay_address() const;
  std::string storage_address() const;

  // Stops one backend, as if its process died; its address refuses calls.
  void StopDetector();

  // A gateway config on 127.0.0.1 port 0 pointed at these fakes, with short
  // deadlines.
  GatewayConfig GatewayConfigForTest() const;

 private:
  FakeDetector detector_;
  FakeOverlay overlay_;
  FakeStorage storage_;
  std::unique_ptr<server::GrpcServer> detector_server_;
  std::unique_ptr<server::GrpcServer> overlay_server_;
  std::unique_ptr<server::GrpcServer> storage_server_;
  int detector_port_ = 0;
};

// Small real images (one flat colour), encoded by OpenCV.
std::string TestJpeg(int width = 64, int height = 48);
std::string TestPng(int width = 64, int height = 48);

}  // namespace stache::gateway::testing

#endif  // STACHE_GATEWAY_TESTING_FAKE_BACKENDS_H_
