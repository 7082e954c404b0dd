#include "server/tls.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/grpc_channel.h"
#include "server/grpc_server.h"
#include "server/health_probe.h"
#include "server/status.h"
#include "server/testing/dev_certs.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::stache::server::testing::DevCerts;
using ::stache::server::testing::MakeDevCerts;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Remembers what VerifiedPeerNames said about the last caller.
class PeerRecordingService final : public stache::detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext* context,
                      const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse*) override {
    absl::MutexLock lock(&mutex_);
    names_ = VerifiedPeerNames(*context);
    return grpc::Status::OK;
  }
  std::vector<std::string> names() {
    absl::MutexLock lock(&mutex_);
    return names_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mutex_);
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<DevCerts> ours = MakeDevCerts({"storage", "gateway"});
    ASSERT_THAT(ours, IsOk());
    absl::StatusOr<DevCerts> theirs = MakeDevCerts({"gateway"});
    ASSERT_THAT(theirs, IsOk());
    certs_ = new DevCerts(*ours);
    other_ca_certs_ = new DevCerts(*theirs);
  }

  static TlsConfig ServerTls(bool require_client_cert) {
    return {.cert_file = certs_->Cert("storage"),
            .key_file = certs_->Key("storage"),
            .ca_file = certs_->ca(),
            .require_client_cert = require_client_cert};
  }

  static TlsMaterial ClientTls(const DevCerts& certs, const std::string& service,
                               const std::string& server_name = "") {
    absl::StatusOr<TlsMaterial> tls =
        LoadClientTls({.cert_file = service.empty() ? "" : certs.Cert(service),
                       .key_file = service.empty() ? "" : certs.Key(service),
                       .ca_file = certs_->ca(),
                       .server_name = server_name});
    EXPECT_THAT(tls, IsOk());
    return tls.ok() ? *tls : TlsMaterial{};
  }

  void Start(const TlsConfig& tls) {
    ServerConfig config;
    config.host = "127.0.0.1";
    config.tls = tls;
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start(config, {.service_name = "t"}, {&service_});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  // One Detect call over a channel from MakeChannel, as every caller makes them.
  absl::Status Call(const std::string& target, const TlsMaterial& tls) {
    auto stub = stache::detector::v1::DetectorService::NewStub(
        MakeChannel(target, 1'000'000, tls));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    stache::detector::v1::DetectResponse response;
    return FromGrpcStatus(stub->Detect(&context, {}, &response));
  }

  static DevCerts* certs_;
  static DevCerts* other_ca_certs_;
  PeerRecordingService service_;
  std::unique_ptr<GrpcServer> server_;
};

DevCerts* TlsTest::certs_ = nullptr;
DevCerts* TlsTest::other_ca_certs_ = nullptr;

TEST_F(TlsTest, NothingSetIsPlaintext) {
  absl::StatusOr<TlsMaterial> server = LoadServerTls({});
  ASSERT_THAT(server, IsOk());
  EXPECT_FALSE(server->enabled());
  absl::StatusOr<TlsMaterial> client = LoadClientTls({});
  ASSERT_THAT(client, IsOk());
  EXPECT_FALSE(client->enabled());
  EXPECT_EQ(client->Mode(), "plaintext");
}

TEST_F(TlsTest, BadSettingsNameTheFlagAndNeverTheContents) {
  const std::string dir = stache::testing::MakeTempDir();
  const std::string not_pem = dir + "/not.pem";
  std::ofstream(not_pem) << "hello";
  const std::string empty = dir + "/empty.pem";
  std::ofstream(empty) << "";
  const std::string key_pem = stache::testing::ReadFileOrDie(certs_->Key("storage"));
  const std::vector<std::pair<TlsConfig, std::string>> server_cases = {
      {{.cert_file = certs_->Cert("storage")}, "--tls_cert needs --tls_key"},
      {{.key_file = certs_->Key("storage")}, "--tls_key needs --tls_cert"},
      {{.ca_file = certs_->ca()}, "--tls_ca on a server needs --tls_cert"},
      {{.cert_file = certs_->Cert("storage"),
        .key_file = certs_->Key("storage"),
        .require_client_cert = true},
       "--tls_require_client_cert needs --tls_ca"},
      {{.cert_file = dir + "/missing.crt", .key_file = certs_->Key("storage")},
       "--tls_cert " + dir + "/missing.crt: cannot read"},
      {{.cert_file = not_pem, .key_file = certs_->Key("storage")},
       "--tls_cert " + not_pem + ": holds no PEM certificate"},
      {{.cert_file = certs_->Cert("storage"), .key_file = empty}, "--tls_key " + empty},
      {{.cert_file = certs_->Key("storage"), .key_file = certs_->Key("storage")},
       "holds no PEM certificate"},
      {{.cert_file = certs_->Cert("storage"), .key_file = certs_->Cert("storage")},
       "--tls_key"},
      // A key that is not the certificate's.
      {{.cert_file = certs_->Cert("storage"), .key_file = certs_->Key("gateway")},
       "is not the key of the certificate in --tls_cert"},
      {{.cert_file = certs_->Cert("storage"),
        .key_file = certs_->Key("storage"),
        .ca_file = not_pem},
       "--tls_ca " + not_pem},
  };
  for (const auto& [config, message] : server_cases) {
    absl::StatusOr<TlsMaterial> tls = LoadServerTls(config);
    EXPECT_THAT(tls, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << message;
    EXPECT_THAT(tls.status().message(), Not(HasSubstr(key_pem.substr(40, 40))));
  }
  EXPECT_THAT(LoadClientTls({.cert_file = certs_->Cert("gateway")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_key")));
  EXPECT_THAT(
      LoadClientTls({.server_name = "storage"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_server_name")));
  // A server refuses to start on bad files, before it listens.
  ServerConfig config;
  config.tls = {.cert_file = certs_->Cert("storage"), .key_file = certs_->Key("gateway")};
  EXPECT_THAT(GrpcServer::Start(config, {.service_name = "t"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_key")));
}

TEST_F(TlsTest, ATlsServerRefusesPlaintextClients) {
  Start(ServerTls(/*require_client_cert=*/false));
  EXPECT_THAT(Call(Target(), TlsMaterial{}),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(CheckGrpcHealth(Target(), "", absl::Seconds(5)),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST_F(TlsTest, AClientWithTheCaVerifiesTheServerByIpOrName) {
  Start(ServerTls(/*require_client_cert=*/false));
  EXPECT_THAT(Call(Target(), ClientTls(*certs_, "")), IsOk());
  EXPECT_THAT(Call(absl::StrCat("localhost:", server_->port()), ClientTls(*certs_, "")),
              IsOk());
  EXPECT_THAT(CheckGrpcHealth(Target(), "", absl::Seconds(5), ClientTls(*certs_, "")),
              IsOk());
  // Without a verified client certificate, the server sees no peer names.
  EXPECT_THAT(service_.names(), IsEmpty());
}

TEST_F(TlsTest, TheServerNameIsChecked) {
  Start(ServerTls(/*require_client_cert=*/false));
  // A target that names no host: the name comes from --tls_server_name.
  const std::string ipv4 = absl::StrCat("ipv4:127.0.0.1:", server_->port());
  EXPECT_THAT(Call(ipv4, ClientTls(*certs_, "", "storage")), IsOk());
  // The storage certificate is not the detector's.
  EXPECT_THAT(Call(Target(), ClientTls(*certs_, "", "detector")),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST_F(TlsTest, AServerFromAnotherCaIsRefused) {
  Start(ServerTls(/*require_client_cert=*/false));
  absl::StatusOr<TlsMaterial> other = LoadClientTls({.ca_file = other_ca_certs_->ca()});
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(Call(Target(), *other),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST_F(TlsTest, RequiredClientCertificatesMustComeFromTheCa) {
  Start(ServerTls(/*require_client_cert=*/true));
  // No certificate.
  EXPECT_THAT(Call(Target(), ClientTls(*certs_, "")),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  // A certificate from another CA.
  EXPECT_THAT(Call(Target(), ClientTls(*other_ca_certs_, "gateway")),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(service_.names(), IsEmpty());
  // Ours: the server sees its names (DNS SANs, then the CN).
  EXPECT_THAT(Call(Target(), ClientTls(*certs_, "gateway")), IsOk());
  EXPECT_THAT(service_.names(), ElementsAre("gateway", "localhost", "gateway"));
}

TEST_F(TlsTest, APlaintextCallHasNoVerifiedPeerNames) {
  Start(TlsConfig{});
  EXPECT_THAT(Call(Target(), TlsMaterial{}), IsOk());
  EXPECT_THAT(service_.names(), IsEmpty());
}

}  // namespace
}  // namespace stache::server
