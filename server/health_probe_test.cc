#include "server/health_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "server/grpc_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::stache::testing::BinaryPath;
using ::stache::testing::IsOk;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::RunCommand;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<GrpcServer> StartServer() {
  ServerConfig config;
  config.host = "127.0.0.1";
  auto server = GrpcServer::Start(
      config, {.service_name = "t", .service_names = {"stache.t.v1.TService"}}, {});
  EXPECT_THAT(server, IsOk());
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HealthProbeTest, GrpcServingServerIsHealthy) {
  auto server = StartServer();
  const std::string target = absl::StrCat("127.0.0.1:", server->port());
  EXPECT_THAT(CheckGrpcHealth(target, "", absl::Seconds(5)), IsOk());
  EXPECT_THAT(CheckGrpcHealth(target, "stache.t.v1.TService", absl::Seconds(5)), IsOk());
  EXPECT_THAT(CheckGrpcHealth(target, "no.such.Service", absl::Seconds(5)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("failed")));
}

TEST(HealthProbeTest, GrpcServerDownIsUnhealthyWithinTheDeadline) {
  const absl::Time start = absl::Now();
  EXPECT_THAT(
      CheckGrpcHealth(absl::StrCat("127.0.0.1:", PickUnusedPort()), "", absl::Seconds(1)),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("failed")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(HealthProbeTest, HttpChecksStatus) {
  httplib::Server http;
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& r) {
    r.set_content("ok", "text/plain");
  });
  http.Get("/sick",
           [](const httplib::Request&, httplib::Response& r) { r.status = 503; });
  const int port = http.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { http.listen_after_bind(); });
  EXPECT_THAT(CheckHttpHealth("127.0.0.1", port, "/healthz", absl::Seconds(5)), IsOk());
  EXPECT_THAT(CheckHttpHealth("127.0.0.1", port, "/sick", absl::Seconds(5)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  http.stop();
  thread.join();
  EXPECT_THAT(CheckHttpHealth("127.0.0.1", port, "/healthz", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("failed")));
}

TEST(HealthProbeTest, BinaryExitsZeroOnlyWhenHealthy) {
  auto server = StartServer();
  const std::string target = absl::StrCat("--grpc=127.0.0.1:", server->port());
  EXPECT_EQ(RunCommand({BinaryPath("stache-healthcheck"), target}).exit_code, 0);
  server->Shutdown(absl::ZeroDuration());
  auto result = RunCommand({BinaryPath("stache-healthcheck"), target, "--timeout=1s"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.output, HasSubstr("unhealthy"));
  EXPECT_EQ(RunCommand({BinaryPath("stache-healthcheck")}).exit_code, 2);
}

}  // namespace
}  // namespace stache::server
