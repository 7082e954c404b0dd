#include "storage/namespace_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "storage/internal/sha256.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kGatewayToken[] = "gateway-token-0123456789";
constexpr char kAuditToken[] = "audit-token-abcdefghijkl";

NamespacePolicy TwoCallers() {
  absl::StatusOr<NamespacePolicy> policy = NamespacePolicy::FromJson(R"({"callers": [
      {"name": "gateway", "token": "gateway-token-0123456789",
       "read": ["gateway", "shared"], "write": ["gateway"]},
      {"name": "audit", "token_sha256": ")" + internal::Sha256Hex(kAuditToken) +
                                                                     R"(",
       "read": ["gateway"]}]})");
  EXPECT_THAT(policy, IsOk());
  return *std::move(policy);
}

TEST(NamespacePolicyTest, GrantsExactlyWhatThePolicySays) {
  const NamespacePolicy policy = TwoCallers();
  const std::string gateway = std::string("Bearer ") + kGatewayToken;
  const std::string audit = std::string("Bearer ") + kAuditToken;
  EXPECT_THAT(policy.Check(gateway, "gateway", Access::kRead), IsOk());
  EXPECT_THAT(policy.Check(gateway, "gateway", Access::kWrite), IsOk());
  EXPECT_THAT(policy.Check(gateway, "shared", Access::kRead), IsOk());
  EXPECT_THAT(policy.Check(gateway, "shared", Access::kWrite),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not write")));
  EXPECT_THAT(policy.Check(gateway, "other", Access::kRead),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not read")));
  // token_sha256 entries authenticate the token whose digest they hold.
  EXPECT_THAT(policy.Check(audit, "gateway", Access::kRead), IsOk());
  EXPECT_THAT(policy.Check(audit, "gateway", Access::kWrite),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("audit")));
  EXPECT_EQ(policy.caller_count(), 2u);
}

TEST(NamespacePolicyTest, MissingMalformedOrUnknownTokensAreUnauthenticated) {
  const NamespacePolicy policy = TwoCallers();
  EXPECT_THAT(policy.Check("", "gateway", Access::kRead),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing")));
  EXPECT_THAT(policy.Check(kGatewayToken, "gateway", Access::kRead),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Bearer")));
  EXPECT_THAT(
      policy.Check(std::string("Basic ") + kGatewayToken, "gateway", Access::kRead),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Bearer")));
  EXPECT_THAT(policy.Check("Bearer ", "gateway", Access::kRead),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Bearer")));
  EXPECT_THAT(policy.Check("Bearer wrong-token-0123456789", "gateway", Access::kRead),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  // A token's digest is not the token.
  EXPECT_THAT(policy.Check("Bearer " + internal::Sha256Hex(kAuditToken), "gateway",
                           Access::kRead),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  // The scheme is case-insensitive, as in HTTP.
  EXPECT_THAT(
      policy.Check(std::string("bearer ") + kGatewayToken, "gateway", Access::kRead),
      IsOk());
}

TEST(NamespacePolicyTest, DevelopmentDefaultGrantsTheGatewayNamespaceOnly) {
  const NamespacePolicy policy = NamespacePolicy::DevelopmentDefault();
  const std::string header = std::string("Bearer ") + kDevelopmentToken;
  EXPECT_THAT(policy.Check(header, kDevelopmentNamespace, Access::kRead), IsOk());
  EXPECT_THAT(policy.Check(header, kDevelopmentNamespace, Access::kWrite), IsOk());
  EXPECT_THAT(policy.Check(header, "detector", Access::kRead),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("detector")));
  EXPECT_THAT(
      policy.Check("Bearer other-token-12345678", kDevelopmentNamespace, Access::kRead),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
}

TEST(NamespacePolicyTest, RejectsBadPoliciesWithAClearReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not JSON"},
      {"[]", "callers"},
      {R"({"callers": []})", "no callers"},
      {R"({"callers": [], "extra": 1})", "callers"},
      {R"({"callers": [{"token": "0123456789abcdefgh"}]})", "name"},
      {R"({"callers": [{"name": "a", "read": ["x"]}]})", "exactly one"},
      {R"({"callers": [{"name": "a", "token": "0123456789abcdefgh", "token_sha256": ")" +
           internal::Sha256Hex("0123456789abcdefgh") + R"("}]})",
       "not both"},
      {R"({"callers": [{"name": "a", "client_cert": ""}]})", "client_cert"},
      {R"({"callers": [{"name": "a", "client_cert": 7}]})", "client_cert"},
      {R"({"callers": [{"name": "a", "client_cert": "gate way"}]})", "client_cert"},
      {R"({"callers": [{"name": "a", "client_cert": "gateway"},
                       {"name": "b", "client_cert": "gateway"}]})",
       "same client_cert"},
      {R"({"callers": [{"name": "a", "token": "short"}]})", "at least 16"},
      {R"({"callers": [{"name": "a", "token": "has space 0123456789"}]})",
       "without spaces"},
      {R"({"callers": [{"name": "a", "token_sha256": "abc"}]})", "64 hex"},
      {R"({"callers": [{"name": "a", "token": "0123456789abcdefgh", "read": ["../x"]}]})",
       "namespace"},
      {R"({"callers": [{"name": "a", "token": "0123456789abcdefgh", "read": "x"}]})",
       "list"},
      {R"({"callers": [{"name": "a", "token": "0123456789abcdefgh", "wirte": ["x"]}]})",
       "unknown field"},
      {R"({"callers": [{"name": "a", "token": "0123456789abcdefgh"},
                       {"name": "b", "token": "0123456789abcdefgh"}]})",
       "same token"},
  };
  for (const auto& [json, reason] : cases) {
    EXPECT_THAT(NamespacePolicy::FromJson(json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(reason)))
        << json;
  }
}

// #13: with mutual TLS, a caller can be known by its certificate alone.
TEST(NamespacePolicyTest, AVerifiedClientCertificateAuthenticatesItsCaller) {
  absl::StatusOr<NamespacePolicy> policy = NamespacePolicy::FromJson(R"({"callers": [
      {"name": "gateway", "client_cert": "gateway", "read": ["gateway"], "write": ["gateway"]},
      {"name": "audit", "token": "audit-token-abcdefghijkl", "client_cert": "audit",
       "read": ["gateway"]},
      {"name": "batch", "token": "batch-token-abcdefghijkl", "read": ["batch"]}]})");
  ASSERT_THAT(policy, IsOk());
  EXPECT_TRUE(policy->names_client_certs());
  EXPECT_FALSE(NamespacePolicy::DevelopmentDefault().names_client_certs());
  // Without a token, the certificate's names decide (any of them).
  EXPECT_THAT(policy->Check("", "gateway", Access::kWrite, {"gateway", "localhost"}),
              IsOk());
  EXPECT_THAT(policy->Check("", "gateway", Access::kWrite, {"localhost", "gateway"}),
              IsOk());
  EXPECT_THAT(policy->Check("", "gateway", Access::kWrite, {"audit"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("audit")));
  // A certificate the policy does not name, or none at all.
  EXPECT_THAT(
      policy->Check("", "gateway", Access::kRead, {"detector", "localhost"}),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("client certificate")));
  EXPECT_THAT(policy->Check("", "gateway", Access::kRead, {}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing")));
  // A caller's name is not its certificate: "batch" has none.
  EXPECT_THAT(policy->Check("", "batch", Access::kRead, {"batch"}),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  // A token, when sent, decides, whatever the certificate says.
  EXPECT_THAT(policy->Check("Bearer batch-token-abcdefghijkl", "batch", Access::kRead,
                            {"gateway"}),
              IsOk());
  EXPECT_THAT(policy->Check("Bearer batch-token-abcdefghijkl", "gateway", Access::kWrite,
                            {"gateway"}),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(policy->Check("Bearer wrong-token-0123456789", "gateway", Access::kRead,
                            {"gateway"}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  // A caller with both is known by either.
  EXPECT_THAT(policy->Check("Bearer audit-token-abcdefghijkl", "gateway", Access::kRead),
              IsOk());
}

TEST(NamespacePolicyTest, AnEmptyPolicyFileIsAnError) {
  const std::string path = stache::testing::MakeTempDir() + "/policy.json";
  std::ofstream(path) << "  \n";
  EXPECT_THAT(NamespacePolicy::FromFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(NamespacePolicyTest, LoadsFromAFile) {
  const std::string path = stache::testing::MakeTempDir() + "/policy.json";
  std::ofstream(path)
      << R"({"callers": [{"name": "g", "token": "file-token-0123456789", "write": ["g"]}]})";
  absl::StatusOr<NamespacePolicy> policy = NamespacePolicy::FromFile(path);
  ASSERT_THAT(policy, IsOk());
  EXPECT_THAT(policy->Check("Bearer file-token-0123456789", "g", Access::kWrite), IsOk());
  EXPECT_THAT(NamespacePolicy::FromFile(path + ".missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("policy.json.missing")));
  std::ofstream(path) << "{";
  EXPECT_THAT(NamespacePolicy::FromFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
}

}  // namespace
}  // namespace stache::storage
