#include "server/grpc_channel.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/grpc_server.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"

namespace stache::server {
namespace {

using ::stache::detector::v1::DetectorService;
using ::stache::detector::v1::DetectRequest;
using ::stache::detector::v1::DetectResponse;
using ::stache::overlay::v1::ApplyRequest;
using ::stache::overlay::v1::ApplyResponse;
using ::stache::overlay::v1::OverlayService;

// Fails the first `failures` calls of each method with UNAVAILABLE, then
// answers; counts every attempt that reached the server.
class FlakyDetector final : public DetectorService::Service {
 public:
  explicit FlakyDetector(int failures) : failures_(failures) {}
  grpc::Status Detect(grpc::ServerContext*, const DetectRequest* request,
                      DetectResponse* response) override {
    if (attempts++ < failures_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "warming up");
    }
    response->set_image_width_px(static_cast<uint32_t>(request->image().size()));
    return grpc::Status::OK;
  }
  std::atomic<int> attempts{0};

 private:
  const int failures_;
};

class FlakyOverlay final : public OverlayService::Service {
 public:
  grpc::Status Apply(grpc::ServerContext*, const ApplyRequest*, ApplyResponse*) override {
    ++attempts;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "warming up");
  }
  std::atomic<int> attempts{0};
};

class GrpcChannelTest : public ::testing::Test {
 protected:
  void Start(std::vector<grpc::Service*> services) {
    ServerConfig config{.host = "127.0.0.1", .port = 0, .max_image_bytes = 8'000'000};
    auto server = GrpcServer::Start(config, {.service_name = "test"}, services);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::string Target() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  std::unique_ptr<GrpcServer> server_;
};

TEST_F(GrpcChannelTest, CarriesMessagesLargerThanGrpcsDefaultLimit) {
  FlakyDetector detector(/*failures=*/0);
  Start({&detector});
  auto stub = DetectorService::NewStub(MakeChannel(Target(), 8'000'000));
  DetectRequest request;
  request.set_image(std::string(6'000'000, 'x'));  // gRPC's default is 4 MiB
  DetectResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status status = stub->Detect(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.image_width_px(), 6'000'000u);
}

TEST_F(GrpcChannelTest, RetriesIdempotentCallsOnUnavailableEvenForLargeImages) {
  FlakyDetector detector(/*failures=*/2);
  Start({&detector});
  auto stub = DetectorService::NewStub(MakeChannel(Target(), 8'000'000));
  DetectRequest request;
  // Larger than gRPC's default per-call retry buffer (256 KiB).
  request.set_image(std::string(1'000'000, 'x'));
  DetectResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status status = stub->Detect(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(detector.attempts.load(), 3);
}

// Apply is pure, so a draining overlay replica must not fail an upload.
TEST_F(GrpcChannelTest, RetriesApplyAtMostFiveTimes) {
  FlakyOverlay overlay;
  Start({&overlay});
  auto stub = OverlayService::NewStub(MakeChannel(Target(), 8'000'000));
  ApplyResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status status = stub->Apply(&context, ApplyRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(overlay.attempts.load(), 5);
}

// Client-side round robin: two detectors on different loopback addresses
// both get calls, and when one goes away the calls keep succeeding on the
// other.
TEST(RoundRobinTest, SpreadsCallsAndSurvivesTheLossOfOneReplica) {
  FlakyDetector first(/*failures=*/0), second(/*failures=*/0);
  std::vector<std::unique_ptr<GrpcServer>> servers;
  std::vector<std::string> addresses;
  for (auto [host, service] :
       {std::pair{"127.0.0.2", &first}, std::pair{"127.0.0.3", &second}}) {
    ServerConfig config{.host = host, .port = 0};
    auto server = GrpcServer::Start(config, {.service_name = "detector"}, {service});
    ASSERT_TRUE(server.ok()) << server.status();
    addresses.push_back(absl::StrCat(host, ":", (*server)->port()));
    servers.push_back(*std::move(server));
  }
  auto stub = DetectorService::NewStub(
      MakeChannel(absl::StrCat("ipv4:", addresses[0], ",", addresses[1]), 8'000'000));
  auto call = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    DetectResponse response;
    return stub->Detect(&context, DetectRequest(), &response);
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(call().ok());
  EXPECT_GT(first.attempts.load(), 0);
  EXPECT_GT(second.attempts.load(), 0);
  EXPECT_EQ(first.attempts.load() + second.attempts.load(), 20);

  servers[0]->Shutdown(absl::ZeroDuration());
  const int second_before = second.attempts.load();
  for (int i = 0; i < 20; ++i) {
    grpc::Status status = call();
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  EXPECT_EQ(second.attempts.load() - second_before, 20);
}

TEST(ClientServiceConfigTest, UsesRoundRobinAndBoundedRetries) {
  nlohmann::json config = nlohmann::json::parse(ClientServiceConfigJson());
  EXPECT_EQ(config["loadBalancingConfig"][0].count("round_robin"), 1u);
  // Replicas that report NOT_SERVING (draining) get no new calls.
  EXPECT_EQ(config["healthCheckConfig"]["serviceName"], "");
  const auto& policy = config["methodConfig"][0]["retryPolicy"];
  EXPECT_LE(policy["maxAttempts"].get<int>(), 5);
  EXPECT_EQ(policy["retryableStatusCodes"], nlohmann::json::array({"UNAVAILABLE"}));
  std::vector<std::string> methods;
  for (const auto& name : config["methodConfig"][0]["name"]) {
    methods.push_back(name["method"].get<std::string>());
  }
  // Never Delete: a repeated Delete is NOT_FOUND. Put replaces its key, so a
  // replayed Put stores the same object.
  EXPECT_THAT(methods,
              ::testing::UnorderedElementsAre("Detect", "Apply", "ListStyles", "Put",
                                              "Stat", "Get", "List", "GetInfo"));
}

}  // namespace
}  // namespace stache::server
