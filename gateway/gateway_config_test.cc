// Where the gateway's secrets come from, and the rule that the published
// development token is used on loopback only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "gateway/gateway_process.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::MakeTempDir;
using ::stache::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kKeyA(40, 'a');
const std::string kKeyB(32, 'b');

std::string WriteFile(const std::string& text) {
  const std::string path = MakeTempDir() + "/secret";
  std::ofstream(path) << text;
  return path;
}

TEST(LoadStorageTokenTest, AnEmptyValueIsAnErrorNotTheDevelopmentToken) {
  EXPECT_THAT(LoadStorageToken("", nullptr),
              IsOkAndHolds(std::string(storage::kDevelopmentToken)));
  EXPECT_THAT(LoadStorageToken("", " real-token \n"),
              IsOkAndHolds(std::string("real-token")));
  EXPECT_THAT(LoadStorageToken("", ""), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("STACHE_STORAGE_TOKEN")));
  EXPECT_THAT(LoadStorageToken("", "  \n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(LoadStorageToken(WriteFile("\n"), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(LoadStorageToken(WriteFile("from-file\n"), "from-env"),
              IsOkAndHolds(std::string("from-file")));
}

TEST(LoadStorageTokenTest, AClientCertificateReplacesTheDevelopmentToken) {
  EXPECT_THAT(LoadStorageToken("", nullptr, /*has_client_certificate=*/true),
              IsOkAndHolds(std::string()));
  EXPECT_THAT(LoadStorageToken("", "real-token", /*has_client_certificate=*/true),
              IsOkAndHolds(std::string("real-token")));
}

TEST(ValidateGatewayConfigTest, NoTokenNeedsAClientCertificate) {
  GatewayConfig config;
  config.storage_token = "";
  EXPECT_THAT(ValidateGatewayConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_cert")));
  config.tls.cert_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_THAT(ValidateGatewayConfig(config), IsOk());
}

TEST(LoadSessionKeysTest, FromAFileOrTheEnvironmentNeverEmpty) {
  EXPECT_THAT(LoadSessionKeys("", nullptr), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(LoadSessionKeys(WriteFile(kKeyA + "\n" + kKeyB + "\n"), nullptr),
              IsOkAndHolds(ElementsAre(kKeyA, kKeyB)));
  EXPECT_THAT(LoadSessionKeys("", (kKeyB + "," + kKeyA).c_str()),
              IsOkAndHolds(ElementsAre(kKeyB, kKeyA)));
  EXPECT_THAT(
      LoadSessionKeys("", "").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("STACHE_SESSION_KEY")));
  EXPECT_THAT(LoadSessionKeys(WriteFile(""), nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no session key")));
  EXPECT_THAT(LoadSessionKeys("", "too-short").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32")));
  EXPECT_THAT(LoadSessionKeys("/nonexistent/keys", nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be read")));
}

TEST(ValidateGatewayConfigTest, TheDevelopmentTokenOnlyOnLoopback) {
  GatewayConfig config;
  config.storage_token = storage::kDevelopmentToken;
  for (const char* host : {"127.0.0.1", "localhost", "::1"}) {
    config.http.host = host;
    EXPECT_THAT(ValidateGatewayConfig(config), IsOk()) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.5"}) {
    config.http.host = host;
    EXPECT_THAT(ValidateGatewayConfig(config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("development")))
        << host;
  }
  config.insecure_dev_auth = true;
  EXPECT_THAT(ValidateGatewayConfig(config), IsOk()) << "explicitly insecure";
  config.insecure_dev_auth = false;
  config.storage_token = "a-real-token";
  EXPECT_THAT(ValidateGatewayConfig(config), IsOk());
}

TEST(ValidateGatewayConfigTest, SessionsRateLimitsAndNetworksAreChecked) {
  GatewayConfig config;
  config.session_keys = {"short"};
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config.session_keys = {kKeyA};
  EXPECT_THAT(ValidateGatewayConfig(config), IsOk());
  config.upload_burst = 0;
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config.upload_rate_per_minute = 0;  // off: the burst does not matter
  EXPECT_THAT(ValidateGatewayConfig(config), IsOk());
  config.rate_limit_exempt_cidrs = {"172.16.0.0/99"};
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config.rate_limit_exempt_cidrs = {"172.16.0.0/12"};
  config.trusted_proxy_hops = -1;
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config.trusted_proxy_hops = 1;
  config.admin_port = 70000;
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
}

}  // namespace
}  // namespace stache::gateway
