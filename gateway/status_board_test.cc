#include "gateway/status_board.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gateway/backend_clients.h"
#include "gateway/backend_targets.h"
#include "gateway/ecs_task_metadata.h"
#include "gateway/testing/fake_backends.h"
#include "server/build_info.h"
#include "server/grpc_channel.h"
#include "server/grpc_server.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

using ::nlohmann::json;
using ::stache::gateway::testing::FakeBackends;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<BackendProbe> ProbeTo(const std::string& address) {
  return std::make_unique<GrpcBackendProbe>(server::MakeChannel(address, 1'000'000));
}

std::unique_ptr<BackendProbe> ProbeToAddress(const std::string& /*target*/,
                                             const std::string& address) {
  return ProbeTo(address);
}

class StatusBoardTest : public ::testing::Test {
 protected:
  // `detector_target` lets a test name the detector differently.
  std::unique_ptr<StatusBoard> MakeBoard(const std::string& detector_target) {
    detector_probe_ = ProbeTo(detector_target);
    storage_probe_ = ProbeTo(backends_.storage_address());
    return std::make_unique<StatusBoard>(
        InstanceIdentity{
            .instance_id = "gw-1/42", .availability_zone = "eu-west-1a", .source = "ecs"},
        /*max_body_bytes=*/1234,
        std::vector<BackendTarget>{
            {.name = "detector",
             .target = detector_target,
             .health_service = "stache.detector.v1.DetectorService",
             .probe = detector_probe_.get()},
            {.name = "storage",
             .target = backends_.storage_address(),
             .health_service = "stache.storage.v1.StorageService",
             .probe = storage_probe_.get()}},
        ProbeToAddress, absl::Seconds(1));
  }

  FakeBackends backends_;
  std::unique_ptr<BackendProbe> detector_probe_;
  std::unique_ptr<BackendProbe> storage_probe_;
};

TEST_F(StatusBoardTest, InfoNamesTheGatewayAndEachBackendInstance) {
  auto board = MakeBoard(backends_.detector_address());
  json info = board->Info({});
  EXPECT_EQ(info["gateway"]["instance_id"], "gw-1/42");
  EXPECT_EQ(info["gateway"]["availability_zone"], "eu-west-1a");
  EXPECT_EQ(info["gateway"]["max_body_bytes"], 1234);
  ASSERT_EQ(info["backends"].size(), 2u);
  const json& detector = info["backends"][0];
  EXPECT_EQ(detector["name"], "detector");
  EXPECT_EQ(detector["target"], backends_.detector_address());
  EXPECT_EQ(detector["service_name"], "detector");
  EXPECT_EQ(detector["health"], "SERVING");
  EXPECT_EQ(detector["version"], server::kVersion);
  EXPECT_EQ(detector["address"], backends_.detector_address());
  EXPECT_THAT(detector["api_packages"], Contains("stache.detector.v1"));
  EXPECT_EQ(info["backends"][1]["name"], "storage");
}

TEST_F(StatusBoardTest, AskEveryAddressANameResolvesToAndListsEachProcessOnce) {
  // "localhost" resolves to 127.0.0.1 (where the fake listens) and usually
  // ::1 (where nothing does): one instance, and no noise about ::1.
  const std::string port =
      backends_.detector_address().substr(backends_.detector_address().rfind(':') + 1);
  auto board = MakeBoard("localhost:" + port);
  json info = board->Info({});
  const json& backends = info["backends"];
  ASSERT_EQ(backends.size(), 2u) << backends.dump();
  EXPECT_EQ(backends[0]["name"], "detector");
  EXPECT_EQ(backends[0]["health"], "SERVING");
  EXPECT_EQ(backends[0]["address"], "127.0.0.1:" + port);
}

TEST_F(StatusBoardTest, UnreachableBackendIsReportedNotHidden) {
  auto board = MakeBoard(absl::StrCat("127.0.0.1:", stache::testing::PickUnusedPort()));
  const absl::Time start = absl::Now();
  json info = board->Info({});
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  const json& backends = info["backends"];
  ASSERT_EQ(backends.size(), 2u) << backends.dump();
  EXPECT_EQ(backends[0]["name"], "detector");
  EXPECT_EQ(backends[0]["health"], "UNAVAILABLE");
  EXPECT_THAT(backends[0]["error"].get<std::string>(), HasSubstr("UNAVAILABLE"));
  EXPECT_FALSE(backends[0].contains("version"));
  EXPECT_EQ(backends[1]["health"], "SERVING");
}

TEST_F(StatusBoardTest, ReadyOnlyWhenEveryBackendServes) {
  auto board = MakeBoard(backends_.detector_address());
  Readiness ready = board->CheckReadiness({});
  EXPECT_TRUE(ready.ready);
  EXPECT_EQ(ready.backends["detector"], "SERVING");
  backends_.StopDetector();
  Readiness not_ready = board->CheckReadiness({});
  EXPECT_FALSE(not_ready.ready);
  EXPECT_THAT(not_ready.backends["detector"].get<std::string>(),
              HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(not_ready.backends["storage"], "SERVING");
}

// Holds every Detect until released.
class BlockingDetector final : public detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext*, const detector::v1::DetectRequest*,
                      detector::v1::DetectResponse*) override {
    ++inside;
    release.WaitForNotificationWithTimeout(absl::Seconds(20));
    return grpc::Status::OK;
  }
  std::atomic<int> inside{0};
  absl::Notification release;
};

// A backend whose call slots are all taken still says SERVING; /readyz must
// not (#12: idle streams made every upload fail while /readyz said ready).
TEST_F(StatusBoardTest, ABackendThatRefusesWorkIsNotReady) {
  BlockingDetector blocking;
  auto busy = server::GrpcServer::Start(
      {.host = "127.0.0.1", .port = 0, .max_concurrent_calls = 1},
      {.service_name = "detector",
       .service_names = {"stache.detector.v1.DetectorService"}},
      {&blocking});
  ASSERT_THAT(busy, IsOk());
  const std::string address = absl::StrCat("127.0.0.1:", (*busy)->port());
  auto board = MakeBoard(address);
  ASSERT_TRUE(board->CheckReadiness({}).ready);
  auto stub =
      detector::v1::DetectorService::NewStub(server::MakeChannel(address, 1'000'000));
  std::thread holder([&] {
    grpc::ClientContext context;
    detector::v1::DetectResponse response;
    stub->Detect(&context, {}, &response);
  });
  ASSERT_TRUE(::stache::testing::WaitFor([&] { return blocking.inside == 1; },
                                         absl::Seconds(10)));
  Readiness refusing = board->CheckReadiness({});
  EXPECT_FALSE(refusing.ready);
  EXPECT_THAT(refusing.backends["detector"].get<std::string>(),
              HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_EQ(refusing.backends["storage"], "SERVING");
  blocking.release.Notify();
  holder.join();
  EXPECT_TRUE(::stache::testing::WaitFor([&] { return board->CheckReadiness({}).ready; },
                                         absl::Seconds(10)));
}

TEST(ResolveTargetAddressesTest, ResolvesNamesAndKeepsOtherSchemes) {
  EXPECT_THAT(ResolveTargetAddresses("127.0.0.1:50051"), ElementsAre("127.0.0.1:50051"));
  EXPECT_THAT(ResolveTargetAddresses("dns:///127.0.0.1:7"), ElementsAre("127.0.0.1:7"));
  EXPECT_THAT(ResolveTargetAddresses("[::1]:9"), ElementsAre("[::1]:9"));
  EXPECT_THAT(ResolveTargetAddresses("localhost:9"), Contains("127.0.0.1:9"));
  EXPECT_THAT(ResolveTargetAddresses("ipv4:10.0.0.1:1,10.0.0.2:1"),
              ElementsAre("ipv4:10.0.0.1:1,10.0.0.2:1"));
  EXPECT_THAT(ResolveTargetAddresses("unix:/tmp/sock"), ElementsAre("unix:/tmp/sock"));
}

// Over TLS each resolved replica is probed by address but verified by the
// name the target gives (every replica's certificate carries it).
TEST(TargetHostTest, TheNameACertificateCarries) {
  EXPECT_EQ(TargetHost("dns:///detector:50051"), "detector");
  EXPECT_EQ(TargetHost("detector:50051"), "detector");
  EXPECT_EQ(TargetHost("127.0.0.1:50051"), "127.0.0.1");
  EXPECT_EQ(TargetHost("[::1]:9"), "::1");
  EXPECT_EQ(TargetHost("ipv4:10.0.0.1:1,10.0.0.2:1"), "");
  EXPECT_EQ(TargetHost("unix:/tmp/sock"), "");
  EXPECT_EQ(TargetHost("dns://8.8.8.8/detector:50051"), "");
}

// The factory hears which backend an address belongs to.
TEST(StatusBoardProbeTest, TheFactoryIsGivenTheTargetOfEachAddress) {
  std::vector<std::pair<std::string, std::string>> made;
  StatusBoard board(
      InstanceIdentity{.instance_id = "gw"}, 1,
      {{.name = "detector", .target = "dns:///127.0.0.1:9", .health_service = "x"}},
      [&](const std::string& target, const std::string& address) {
        made.emplace_back(target, address);
        return std::make_unique<GrpcBackendProbe>(
            server::MakeChannel(address, 1'000'000));
      },
      absl::Milliseconds(200));
  board.Info({});
  EXPECT_THAT(made, ElementsAre(std::pair<std::string, std::string>("dns:///127.0.0.1:9",
                                                                    "127.0.0.1:9")));
}

// A stand-in for the ECS task metadata endpoint (v4).
class FakeEcsMetadata final {
 public:
  explicit FakeEcsMetadata(std::string task_json) {
    server_.Get("/v4/container-1/task",
                [task_json](const httplib::Request&, httplib::Response& response) {
                  response.set_content(task_json, "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    stache::testing::WaitFor([this] { return server_.is_running(); }, absl::Seconds(5));
  }
  ~FakeEcsMetadata() {
    server_.stop();
    thread_.join();
  }
  std::string uri() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/v4/container-1");
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(PublicInfoTest, CountsInstancesPerVersionAndDropsEverythingInternal) {
  const json full = json::parse(R"({
    "gateway": {"service_name": "gateway", "version": "0.2.0", "build_id": "abc",
                "instance_id": "ip-10-0-1-7/42", "instance_source": "ecs",
                "availability_zone": "eu-west-1a", "health": "SERVING",
                "max_body_bytes": 1000, "uptime_seconds": 5},
    "backends": [
      {"name": "detector", "target": "dns:///detector:50051", "address": "10.0.1.7:50051",
       "service_name": "detector", "version": "0.1.0", "build_id": "old",
       "instance_id": "a", "health": "SERVING", "components": [{"detail": "/models"}]},
      {"name": "detector", "address": "10.0.1.8:50051", "service_name": "detector",
       "version": "0.2.0", "build_id": "new", "instance_id": "b", "health": "SERVING"},
      {"name": "detector", "address": "10.0.1.9:50051", "service_name": "detector",
       "version": "0.2.0", "build_id": "new", "instance_id": "c", "health": "SERVING"},
      {"name": "storage", "target": "storage:50053", "address": "10.0.2.1:50053",
       "health": "UNAVAILABLE", "error": "UNAVAILABLE: connect to 10.0.2.1:50053 failed"}
    ]})");
  const json info = PublicInfoFrom(full);
  EXPECT_EQ(info["gateway"],
            json::parse(R"({"service_name": "gateway", "version": "0.2.0",
      "build_id": "abc", "health": "SERVING", "max_body_bytes": 1000})"));
  EXPECT_EQ(info["backends"], json::parse(R"([
      {"name": "detector", "service_name": "detector", "version": "0.1.0", "build_id": "old",
       "health": "SERVING", "instances": 1},
      {"name": "detector", "service_name": "detector", "version": "0.2.0", "build_id": "new",
       "health": "SERVING", "instances": 2},
      {"name": "storage", "service_name": "storage", "health": "UNAVAILABLE", "instances": 0}
    ])"));
  const std::string text = info.dump();
  for (const char* internal : {"10.0.", "dns:", "ip-10", "eu-west", "/models", "ecs"}) {
    EXPECT_THAT(text, ::testing::Not(HasSubstr(internal))) << internal;
  }
}

TEST(InstanceIdentityTest, ReadsTaskIdAndZoneFromEcsMetadata) {
  FakeEcsMetadata ecs(R"({"Cluster": "stache",
      "TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/stache/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
      "AvailabilityZone": "eu-west-1b"})");
  absl::StatusOr<InstanceIdentity> identity =
      ReadEcsTaskIdentity(ecs.uri(), absl::Seconds(2));
  ASSERT_THAT(identity, IsOk());
  EXPECT_THAT(identity->instance_id, StartsWith("0f1e2d3c4b5a69788796a5b4c3d2e1f0/"));
  EXPECT_EQ(identity->availability_zone, "eu-west-1b");
  EXPECT_EQ(identity->source, "ecs");
  EXPECT_EQ(DescribeInstance(ecs.uri(), absl::Seconds(2)).source, "ecs");
}

TEST(InstanceIdentityTest, FallsBackToTheHostName) {
  EXPECT_EQ(DescribeInstance("", absl::Seconds(1)).source, "hostname");
  FakeEcsMetadata broken(R"({"no": "arn"})");
  EXPECT_THAT(ReadEcsTaskIdentity(broken.uri(), absl::Seconds(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TaskARN")));
  EXPECT_EQ(DescribeInstance(broken.uri(), absl::Seconds(2)).source, "hostname");
  const std::string closed =
      absl::StrCat("http://127.0.0.1:", stache::testing::PickUnusedPort(), "/v4/x");
  EXPECT_THAT(ReadEcsTaskIdentity(closed, absl::Seconds(2)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ECS")));
  EXPECT_THAT(ReadEcsTaskIdentity("ftp://x", absl::Seconds(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an http URL")));
  EXPECT_THAT(HostIdentity().instance_id, HasSubstr("/"));
}

}  // namespace
}  // namespace stache::gateway
