// Every stache binary, run for real: starts, reports SERVING, is browsable
// with grpcurl through reflection, and exits 0 on SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::RunCommand;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;

struct GrpcBinary {
  std::string binary;
  std::string service;  // fully qualified gRPC service
  std::string short_name;
};

// The command line of a server under test. stache-storage locks its data
// dir, so each instance gets its own.
std::vector<std::string> ServerArgv(const GrpcBinary& binary,
                                    std::vector<std::string> flags) {
  flags.insert(flags.begin(), {BinaryPath(binary.binary), "--host=127.0.0.1"});
  if (binary.short_name == "storage") {
    flags.push_back("--data_dir=" + testing::MakeTempDir());
  }
  return flags;
}

class GrpcBinaryTest : public ::testing::TestWithParam<GrpcBinary> {
 protected:
  void StartServer() {
    port_ = PickUnusedPort();
    server_ = std::make_unique<ChildProcess>(
        ServerArgv(GetParam(), {absl::StrCat("--port=", port_)}));
    ASSERT_TRUE(WaitFor([&] { return PortAcceptsConnections(port_); }, absl::Seconds(20)))
        << server_->Output();
  }

  testing::CommandResult Grpcurl(std::vector<std::string> args) {
    std::vector<std::string> argv = {STACHE_GRPCURL, "-plaintext"};
    const std::string target = absl::StrCat("127.0.0.1:", port_);
    // grpcurl wants the address before the verb or method.
    const bool has_data = args.size() > 1 && args[0] == "-d";
    auto insert_at = args.begin() + (has_data ? 2 : 0);
    args.insert(insert_at, target);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(GrpcBinaryTest, ReportsServingForItsServiceAndOverall) {
  StartServer();
  for (const std::string& service : {std::string(), GetParam().service}) {
    auto result = Grpcurl({"-d", absl::StrCat(R"({"service":")", service, R"("})"),
                           "grpc.health.v1.Health/Check"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("\"SERVING\"")) << service;
  }
}

TEST_P(GrpcBinaryTest, ListsItsApiHealthInfoAndReflection) {
  StartServer();
  auto result = Grpcurl({"list"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr(GetParam().service));
  EXPECT_THAT(result.output, HasSubstr("grpc.health.v1.Health"));
  EXPECT_THAT(result.output, HasSubstr("grpc.reflection.v1alpha.ServerReflection"));
  EXPECT_THAT(result.output, HasSubstr("stache.info.v1.InfoService"));
}

TEST_P(GrpcBinaryTest, DescribesItsServiceThroughReflection) {
  StartServer();
  auto result = Grpcurl({"describe", GetParam().service});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("is a service"));
  EXPECT_THAT(result.output, HasSubstr("rpc "));
}

TEST_P(GrpcBinaryTest, GetInfoNamesTheServiceAndItsPackage) {
  StartServer();
  auto result = Grpcurl({"stache.info.v1.InfoService/GetInfo"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr(absl::StrCat("\"service_name\": \"",
                                                    GetParam().short_name, "\"")));
  EXPECT_THAT(result.output, HasSubstr("stache." + GetParam().short_name + ".v1"));
  EXPECT_THAT(result.output,
              HasSubstr(absl::StrCat("\"version\": \"", STACHE_PROJECT_VERSION, "\"")));
  EXPECT_THAT(result.output, HasSubstr("\"instance_id\""));
}

TEST_P(GrpcBinaryTest, ExitsZeroOnSigterm) {
  StartServer();
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(absl::Seconds(10)), 0) << server_->Output();
  EXPECT_FALSE(PortAcceptsConnections(port_));
}

TEST_P(GrpcBinaryTest, ExitsZeroOnSigint) {
  StartServer();
  server_->Signal(SIGINT);
  EXPECT_EQ(server_->Wait(absl::Seconds(10)), 0) << server_->Output();
}

TEST_P(GrpcBinaryTest, FailsFastWhenThePortIsTaken) {
  StartServer();
  ChildProcess second(ServerArgv(GetParam(), {absl::StrCat("--port=", port_)}));
  EXPECT_EQ(second.Wait(absl::Seconds(10)), 1);
  EXPECT_THAT(second.Output(),
              HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", port_)));
}

TEST_P(GrpcBinaryTest, EnvironmentSetsAFlag) {
  port_ = PickUnusedPort();
  ChildProcess server(ServerArgv(GetParam(), {}), {{"STACHE_PORT", absl::StrCat(port_)}});
  EXPECT_TRUE(WaitFor([&] { return PortAcceptsConnections(port_); }, absl::Seconds(20)))
      << server.Output();
}

TEST_P(GrpcBinaryTest, HelpDocumentsFlagsAndEnvironment) {
  auto result = RunCommand({BinaryPath(GetParam().binary), "--help"});
  EXPECT_EQ(result.exit_code, 1) << "absl exits 1 after --help";
  EXPECT_THAT(result.output, HasSubstr("--port"));
  EXPECT_THAT(result.output, HasSubstr("--grace_period"));
  EXPECT_THAT(result.output, HasSubstr("STACHE_"));
}

INSTANTIATE_TEST_SUITE_P(
    AllServices, GrpcBinaryTest,
    ::testing::Values(
        GrpcBinary{"stache-detector", "stache.detector.v1.DetectorService", "detector"},
        GrpcBinary{"stache-overlay", "stache.overlay.v1.OverlayService", "overlay"},
        GrpcBinary{"stache-storage", "stache.storage.v1.StorageService", "storage"}),
    [](const auto& info) { return info.param.short_name; });

TEST(GatewayBinaryTest, ServesHealthzAndExitsZeroOnSigterm) {
  const int port = PickUnusedPort();
  ChildProcess gateway({BinaryPath("stache-gateway"), "--host=127.0.0.1",
                        absl::StrCat("--port=", port),
                        absl::StrCat("--admin_port=", PickUnusedPort())});
  ASSERT_TRUE(WaitFor([&] { return PortAcceptsConnections(port); }, absl::Seconds(20)))
      << gateway.Output();
  httplib::Client client("127.0.0.1", port);
  auto response = client.Get("/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  gateway.Signal(SIGTERM);
  EXPECT_EQ(gateway.Wait(absl::Seconds(10)), 0) << gateway.Output();
}

}  // namespace
}  // namespace stache
