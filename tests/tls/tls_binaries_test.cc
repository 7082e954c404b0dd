// TLS between the real binaries (#13), with certificates from
// scripts/dev-certs.sh: a TLS server refuses plaintext and certificates from
// another CA, grpcurl with the development CA works, storage knows a caller
// by its client certificate, stache-healthcheck probes a TLS server from the
// service's own environment, and servers listen on loopback unless told
// otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/grpc_channel.h"
#include "server/testing/dev_certs.h"
#include "server/tls.h"
#include "storage/storage_client.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache {
namespace {

using ::stache::server::TlsMaterial;
using ::stache::server::testing::DevCerts;
using ::stache::server::testing::MakeDevCerts;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::IsOk;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::RunCommand;
using ::stache::testing::StatusIs;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOpsToken[] = "ops-token-0123456789abcdef";

// The gateway by its certificate; "ops" by token, read-only.
constexpr char kPolicy[] = R"({"callers": [
  {"name": "gateway", "client_cert": "gateway", "read": ["gateway"], "write": ["gateway"]},
  {"name": "ops", "token": "ops-token-0123456789abcdef", "read": ["gateway"]}]})";

class TlsBinariesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<DevCerts> ours = MakeDevCerts();
    ASSERT_THAT(ours, IsOk());
    absl::StatusOr<DevCerts> theirs = MakeDevCerts({"gateway"});
    ASSERT_THAT(theirs, IsOk());
    certs_ = new DevCerts(*ours);
    other_ca_certs_ = new DevCerts(*theirs);
  }

  // The TLS flags of `service`, its server certificate doubling as the
  // client certificate, as in the Compose stack.
  static std::map<std::string, std::string> TlsEnvironment(const std::string& service) {
    return {{"STACHE_TLS_CERT", certs_->Cert(service)},
            {"STACHE_TLS_KEY", certs_->Key(service)},
            {"STACHE_TLS_CA", certs_->ca()},
            {"STACHE_TLS_REQUIRE_CLIENT_CERT", "true"}};
  }

  // Starts `binary` on a free loopback port with `flags` and `env`.
  std::unique_ptr<ChildProcess> StartServer(const std::string& binary,
                                            std::vector<std::string> flags,
                                            const std::map<std::string, std::string>& env,
                                            int* port) {
    *port = PickUnusedPort();
    flags.insert(flags.begin(), {BinaryPath(binary), "--host=127.0.0.1",
                                 absl::StrCat("--port=", *port)});
    auto process = std::make_unique<ChildProcess>(flags, env);
    EXPECT_TRUE(
        WaitFor([&] { return PortAcceptsConnections(*port) || !process->Running(); },
                absl::Seconds(30)));
    EXPECT_TRUE(process->Running()) << process->Output();
    return process;
  }

  std::unique_ptr<ChildProcess> StartStorage(int* port) {
    const std::string policy = stache::testing::MakeTempDir() + "/policy.json";
    std::ofstream(policy) << kPolicy;
    return StartServer(
        "stache-storage",
        {"--data_dir=" + stache::testing::MakeTempDir(), "--auth_policy_file=" + policy},
        TlsEnvironment("storage"), port);
  }

  static TlsMaterial ClientTls(const DevCerts& certs, const std::string& service) {
    absl::StatusOr<TlsMaterial> tls =
        server::LoadClientTls({.cert_file = service.empty() ? "" : certs.Cert(service),
                               .key_file = service.empty() ? "" : certs.Key(service),
                               .ca_file = certs_->ca()});
    EXPECT_THAT(tls, IsOk());
    return tls.ok() ? *tls : TlsMaterial{};
  }

  static storage::StorageClient Storage(int port, const TlsMaterial& tls,
                                        const std::string& token = "") {
    return storage::StorageClient(
        storage::v1::StorageService::NewStub(
            server::MakeChannel(absl::StrCat("127.0.0.1:", port), 1'000'000, tls)),
        {.token = token, .timeout = absl::Seconds(10)});
  }

  // grpcurl with `tls_args` (e.g. -cacert ...) against 127.0.0.1:port.
  static stache::testing::CommandResult Grpcurl(std::vector<std::string> tls_args,
                                                int port, std::vector<std::string> call) {
    // A refused handshake makes grpcurl retry until this passes (10 s by
    // default); a served one takes milliseconds.
    std::vector<std::string> argv = {STACHE_GRPCURL, "-connect-timeout", "3"};
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    const bool has_data = call.size() > 1 && call[0] == "-d";
    auto insert_at = call.begin() + (has_data ? 2 : 0);
    call.insert(insert_at, absl::StrCat("127.0.0.1:", port));
    argv.insert(argv.end(), call.begin(), call.end());
    return RunCommand(argv);
  }

  static std::vector<std::string> GrpcurlTls(const DevCerts& certs,
                                             const std::string& service) {
    return {"-cacert",           certs_->ca(), "-cert",
            certs.Cert(service), "-key",       certs.Key(service)};
  }

  static DevCerts* certs_;
  static DevCerts* other_ca_certs_;
};

DevCerts* TlsBinariesTest::certs_ = nullptr;
DevCerts* TlsBinariesTest::other_ca_certs_ = nullptr;

TEST_F(TlsBinariesTest, StorageRefusesPlaintextAndCertificatesFromAnotherCa) {
  int port = 0;
  std::unique_ptr<ChildProcess> storage = StartStorage(&port);
  EXPECT_THAT(Storage(port, TlsMaterial{}, kOpsToken).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(
      Storage(port, ClientTls(*other_ca_certs_, "gateway")).StatObject("gateway", "k"),
      StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  // The right CA but no client certificate: required, so refused.
  EXPECT_THAT(Storage(port, ClientTls(*certs_, ""), kOpsToken).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(Grpcurl({"-plaintext"}, port, {"list"}).exit_code, Not(0));
  EXPECT_THAT(Grpcurl(GrpcurlTls(*other_ca_certs_, "gateway"), port, {"list"}).exit_code,
              Not(0));
  EXPECT_TRUE(storage->Running()) << storage->Output();
}

TEST_F(TlsBinariesTest, StorageKnowsTheGatewayByItsCertificate) {
  int port = 0;
  std::unique_ptr<ChildProcess> storage = StartStorage(&port);
  // No token: the certificate names the caller.
  storage::StorageClient gateway = Storage(port, ClientTls(*certs_, "gateway"));
  ASSERT_THAT(gateway.PutObject({.ns = "gateway", .key = "k"}, "bytes"), IsOk());
  absl::StatusOr<storage::StoredObject> got = gateway.GetObject("gateway", "k");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "bytes");
  // A certificate from the same CA that the policy does not name.
  EXPECT_THAT(Storage(port, ClientTls(*certs_, "detector")).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  // A token still works, and grants what its caller has.
  storage::StorageClient ops = Storage(port, ClientTls(*certs_, "detector"), kOpsToken);
  EXPECT_THAT(ops.StatObject("gateway", "k"), IsOk());
  EXPECT_THAT(ops.PutObject({.ns = "gateway", .key = "k2"}, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

TEST_F(TlsBinariesTest, GrpcurlWithTheDevelopmentCaListsChecksAndCalls) {
  int port = 0;
  std::unique_ptr<ChildProcess> storage = StartStorage(&port);
  ASSERT_THAT(Storage(port, ClientTls(*certs_, "gateway"))
                  .PutObject({.ns = "gateway", .key = "hello.txt"}, "hello"),
              IsOk());
  const std::vector<std::string> tls = GrpcurlTls(*certs_, "gateway");
  auto list = Grpcurl(tls, port, {"list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("stache.storage.v1.StorageService"));
  EXPECT_THAT(list.output, HasSubstr("grpc.health.v1.Health"));
  auto health = Grpcurl(tls, port, {"grpc.health.v1.Health/Check"});
  ASSERT_EQ(health.exit_code, 0) << health.output;
  EXPECT_THAT(health.output, HasSubstr("\"SERVING\""));
  auto call = Grpcurl(
      tls, port,
      {"-d", R"({"namespace": "gateway"})", "stache.storage.v1.StorageService/List"});
  ASSERT_EQ(call.exit_code, 0) << call.output;
  EXPECT_THAT(call.output, HasSubstr("hello.txt"));
  // The token from grpcurl, for a caller without a certificate of its own.
  auto with_token = Grpcurl(
      {"-cacert", certs_->ca(), "-cert", certs_->Cert("detector"), "-key",
       certs_->Key("detector"), "-H", absl::StrCat("authorization: Bearer ", kOpsToken)},
      port,
      {"-d", R"({"namespace": "gateway"})", "stache.storage.v1.StorageService/List"});
  EXPECT_EQ(with_token.exit_code, 0) << with_token.output;
}

TEST_F(TlsBinariesTest, TheHealthProbeReadsTheServicesTlsEnvironment) {
  int port = 0;
  std::unique_ptr<ChildProcess> storage = StartStorage(&port);
  const std::vector<std::string> probe = {BinaryPath("stache-healthcheck"),
                                          absl::StrCat("--grpc=127.0.0.1:", port)};
  ChildProcess with_env(probe, TlsEnvironment("storage"));
  EXPECT_EQ(with_env.Wait(absl::Seconds(20)), 0) << with_env.Output();
  ChildProcess plaintext(probe);
  EXPECT_EQ(plaintext.Wait(absl::Seconds(20)), 1) << plaintext.Output();
  ChildProcess bad_flags(probe, {{"STACHE_TLS_CERT", certs_->Cert("storage")}});
  EXPECT_EQ(bad_flags.Wait(absl::Seconds(20)), 2) << bad_flags.Output();
}

TEST_F(TlsBinariesTest, DetectorAndOverlayServeTlsFromTheirFlags) {
  for (const std::string service : {"detector", "overlay"}) {
    int port = 0;
    std::unique_ptr<ChildProcess> server =
        StartServer("stache-" + service, {}, TlsEnvironment(service), &port);
    auto health =
        Grpcurl(GrpcurlTls(*certs_, "gateway"), port, {"grpc.health.v1.Health/Check"});
    EXPECT_EQ(health.exit_code, 0) << service << ": " << health.output;
    EXPECT_THAT(health.output, HasSubstr("\"SERVING\"")) << service;
    EXPECT_THAT(Grpcurl({"-plaintext"}, port, {"grpc.health.v1.Health/Check"}).exit_code,
                Not(0))
        << service;
  }
}

// The whole suite as Compose runs it: every hop mutual TLS, and the gateway
// known to storage by its certificate alone (no token configured, so none is
// sent). An upload goes all the way through and is listed for its uploader.
TEST_F(TlsBinariesTest, GatewayUploadsThroughMutualTlsWithoutAToken) {
  int storage_port = 0, detector_port = 0, overlay_port = 0;
  std::unique_ptr<ChildProcess> storage = StartStorage(&storage_port);
  std::unique_ptr<ChildProcess> detector =
      StartServer("stache-detector", {}, TlsEnvironment("detector"), &detector_port);
  std::unique_ptr<ChildProcess> overlay =
      StartServer("stache-overlay", {}, TlsEnvironment("overlay"), &overlay_port);
  int gateway_port = 0;
  std::unique_ptr<ChildProcess> gateway = StartServer(
      "stache-gateway",
      {"--admin_port=-1", absl::StrCat("--detector_address=localhost:", detector_port),
       absl::StrCat("--overlay_address=localhost:", overlay_port),
       absl::StrCat("--storage_address=localhost:", storage_port)},
      TlsEnvironment("gateway"), &gateway_port);
  ASSERT_TRUE(gateway->Running());

  httplib::Client client("127.0.0.1", gateway_port);
  client.set_read_timeout(60);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ready = client.Get("/readyz");
        return ready && ready->status == 200;
      },
      absl::Seconds(60)))
      << gateway->Output();
  const std::string photo =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  auto upload = client.Post("/v1/images", photo, "image/jpeg");
  ASSERT_TRUE(upload);
  ASSERT_EQ(upload->status, 201) << upload->body;
  EXPECT_THAT(upload->body, HasSubstr("\"faces\":[{"));
}

TEST_F(TlsBinariesTest, BadTlsSettingsFailAtStartupNamingTheFlag) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"STACHE_TLS_REQUIRE_CLIENT_CERT", "true"},
        {"STACHE_TLS_CERT", certs_->Cert("storage")},
        {"STACHE_TLS_KEY", certs_->Key("storage")}},
       "--tls_ca"},
      {{{"STACHE_TLS_CERT", certs_->Cert("storage")},
        {"STACHE_TLS_KEY", certs_->Key("gateway")}},
       "--tls_key"},
      {{{"STACHE_TLS_CERT", "/nonexistent/storage.crt"},
        {"STACHE_TLS_KEY", certs_->Key("storage")}},
       "--tls_cert"},
      // Certificate callers without verified client certificates.
      {{{"STACHE_STORAGE_AUTH_POLICY", kPolicy}}, "--tls_require_client_cert"},
  };
  for (const auto& [env, flag] : cases) {
    ChildProcess storage({BinaryPath("stache-storage"), "--host=127.0.0.1",
                          absl::StrCat("--port=", PickUnusedPort()),
                          "--data_dir=" + stache::testing::MakeTempDir()},
                         env);
    EXPECT_EQ(storage.Wait(absl::Seconds(20)), 1) << storage.Output();
    EXPECT_THAT(storage.Output(), HasSubstr(flag));
    // The message names the file, never what is in it.
    EXPECT_THAT(storage.Output(), Not(HasSubstr("PRIVATE KEY")));
  }
}

// The local addresses of the listening TCP sockets on `port`, as
// /proc/net/tcp and tcp6 show them (hex, e.g. "0100007F" for 127.0.0.1).
std::vector<std::string> ListeningAddresses(int port) {
  std::vector<std::string> addresses;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> fields =
          absl::StrSplit(absl::StripAsciiWhitespace(line), ' ', absl::SkipEmpty());
      if (fields.size() < 4 || fields[3] != "0A") continue;  // 0A: LISTEN
      std::pair<std::string, std::string> local = absl::StrSplit(fields[1], ':');
      int local_port = 0;
      if (absl::SimpleHexAtoi(local.second, &local_port) && local_port == port) {
        addresses.push_back(local.first);
      }
    }
  }
  return addresses;
}

// Whether a /proc/net address is loopback: 127.0.0.0/8 (its first octet is
// the last byte of the little-endian word), the same as an IPv4-mapped IPv6
// address (gRPC listens so), or ::1.
bool IsLoopbackAddress(const std::string& hex) {
  if (hex.size() == 8) return hex.substr(6, 2) == "7F";
  if (hex.size() != 32) return false;
  if (absl::StartsWith(hex, "0000000000000000FFFF0000")) return hex.substr(30, 2) == "7F";
  return hex == "00000000000000000000000001000000";
}

// #13: binaries without --host accept local clients only, on the gRPC and
// the admin port alike.
TEST_F(TlsBinariesTest, ServersListenOnLoopbackByDefault) {
  for (const std::string binary :
       {"stache-detector", "stache-overlay", "stache-storage"}) {
    const int port = PickUnusedPort();
    int admin_port = PickUnusedPort();
    while (admin_port == port) admin_port = PickUnusedPort();
    std::vector<std::string> argv = {BinaryPath(binary), absl::StrCat("--port=", port),
                                     absl::StrCat("--admin_port=", admin_port)};
    if (binary == "stache-storage") {
      argv.push_back("--data_dir=" + stache::testing::MakeTempDir());
    }
    ChildProcess server(argv);
    ASSERT_TRUE(WaitFor(
        [&] {
          return !server.Running() || (!ListeningAddresses(port).empty() &&
                                       !ListeningAddresses(admin_port).empty());
        },
        absl::Seconds(30)))
        << server.Output();
    ASSERT_TRUE(server.Running()) << server.Output();
    for (int listening : {port, admin_port}) {
      const std::vector<std::string> addresses = ListeningAddresses(listening);
      EXPECT_THAT(addresses, ::testing::Not(::testing::IsEmpty()));
      EXPECT_THAT(addresses, ::testing::Each(::testing::Truly(IsLoopbackAddress)))
          << binary << " port " << listening;
    }
  }
}

}  // namespace
}  // namespace stache
