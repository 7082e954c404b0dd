// The storage server's configuration rules (#13): the development token only
// where no other machine can connect, no fallback from an empty setting, and
// certificate identities only where certificates are verified.
#include "storage/storage_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

StorageProcessConfig ConfigOn(const std::string& host) {
  StorageProcessConfig config;
  config.server.host = host;
  config.data_dir = stache::testing::MakeTempDir();
  return config;
}

absl::Status LoadPolicy(const StorageProcessConfig& config,
                        std::string* source = nullptr) {
  std::string ignored;
  return LoadNamespacePolicy(config, source == nullptr ? &ignored : source).status();
}

TEST(StorageServerTest, TheDevelopmentDefaultNeedsALoopbackListener) {
  for (const std::string host : {"127.0.0.1", "localhost", "::1", "127.0.0.2"}) {
    std::string source;
    EXPECT_THAT(LoadPolicy(ConfigOn(host), &source), IsOk()) << host;
    EXPECT_EQ(source, "development default");
  }
  for (const std::string host : {"0.0.0.0", "::", "10.0.0.5", "storage"}) {
    EXPECT_THAT(LoadPolicy(ConfigOn(host)),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr("--auth_policy_file"),
                               HasSubstr("STACHE_STORAGE_AUTH_POLICY"))))
        << host;
  }
}

TEST(StorageServerTest, InsecureDevAuthAcceptsTheDevelopmentTokenAnywhere) {
  StorageProcessConfig config = ConfigOn("0.0.0.0");
  config.insecure_dev_auth = true;
  std::string source;
  EXPECT_THAT(LoadPolicy(config, &source), IsOk());
  EXPECT_EQ(source, "development default");
}

TEST(StorageServerTest, AConfiguredPolicyNeedsNoLoopback) {
  StorageProcessConfig config = ConfigOn("0.0.0.0");
  config.auth_policy_json =
      R"({"callers": [{"name": "g", "token": "token-0123456789abcdef", "read": ["g"]}]})";
  EXPECT_THAT(LoadPolicy(config), IsOk());
}

TEST(StorageServerTest, AnEmptySettingIsAnErrorNotTheDefault) {
  StorageProcessConfig config = ConfigOn("127.0.0.1");
  config.auth_policy_json = "";
  EXPECT_THAT(ValidateStorageProcessConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("STACHE_STORAGE_AUTH_POLICY is set but empty")));
  config.auth_policy_json = " \n";
  EXPECT_THAT(ValidateStorageProcessConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  config.auth_policy_json.reset();
  config.auth_policy_file = "";
  EXPECT_THAT(
      ValidateStorageProcessConfig(config),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("--auth_policy_file (STACHE_AUTH_POLICY_FILE) is set but empty")));
  config.auth_policy_file = config.data_dir + "/policy.json";
  std::ofstream(*config.auth_policy_file) << "";
  EXPECT_THAT(ValidateStorageProcessConfig(config), IsOk());
  EXPECT_THAT(LoadPolicy(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is empty")));
}

TEST(StorageServerTest, CertificateCallersNeedVerifiedClientCertificates) {
  StorageProcessConfig config = ConfigOn("127.0.0.1");
  config.auth_policy_json =
      R"({"callers": [{"name": "g", "client_cert": "gateway", "write": ["gateway"]}]})";
  EXPECT_THAT(LoadPolicy(config), StatusIs(absl::StatusCode::kFailedPrecondition,
                                           HasSubstr("--tls_require_client_cert")));
  config.server.tls = {.cert_file = "s.crt",
                       .key_file = "s.key",
                       .ca_file = "ca.crt",
                       .require_client_cert = true};
  EXPECT_THAT(LoadPolicy(config), IsOk());
}

}  // namespace
}  // namespace stache::storage
