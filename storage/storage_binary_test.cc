// The stache-storage binary, run for real: its defaults work out of the box,
// its flags and environment configure the policy, limits and backends, and
// bad configuration fails fast.
#include "storage/testing/storage_binary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "server/status.h"
#include "stache/info/v1/info.grpc.pb.h"
#include "storage/namespace_policy.h"
#include "storage/testing/minio_server.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::server::FromGrpcStatus;
using ::stache::storage::testing::MinioServer;
using ::stache::storage::testing::ScratchDir;
using ::stache::storage::testing::StorageBinary;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kFileToken[] = "token-from-a-file-0123";
constexpr char kEnvToken[] = "token-from-the-env-0123";

std::string PolicyJson(const std::string& token) {
  return absl::StrCat(R"({"callers": [{"name": "gateway", "token": ")", token,
                      R"(", "read": ["gateway"], "write": ["gateway"]}]})");
}

stache::info::v1::GetInfoResponse GetInfo(const StorageBinary& server) {
  auto stub = stache::info::v1::InfoService::NewStub(server.channel());
  grpc::ClientContext context;
  stache::info::v1::GetInfoResponse response;
  EXPECT_THAT(FromGrpcStatus(stub->GetInfo(&context, {}, &response)), IsOk());
  return response;
}

// The component of GetInfo with this kind, as "name detail".
std::string Component(const stache::info::v1::GetInfoResponse& info,
                      const std::string& kind) {
  for (const auto& component : info.components()) {
    if (component.kind() == kind) return component.name() + " " + component.detail();
  }
  return "";
}

// Runs the binary with `flags` and `env` to its exit: its code and output.
std::pair<std::optional<int>, std::string> RunToExit(
    const std::vector<std::string>& flags,
    const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {
      BinaryPath("stache-storage"), "--host=127.0.0.1",
      absl::StrCat("--port=", stache::testing::PickUnusedPort())};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ChildProcess process(argv, env);
  std::optional<int> code = process.Wait(absl::Seconds(20));
  return {code, process.Output()};
}

TEST(StorageBinaryTest, WorksOutOfTheBoxWithTheDevelopmentDefault) {
  const std::string data_dir = ScratchDir() + "/storage";
  absl::StatusOr<std::unique_ptr<StorageBinary>> server =
      StorageBinary::Start({"--data_dir=" + data_dir});
  ASSERT_THAT(server, IsOk());
  StorageClient client = (*server)->Client(kDevelopmentToken);
  ASSERT_THAT(
      client.PutObject({.ns = kDevelopmentNamespace, .key = "hello.txt"}, "hello"),
      IsOk());
  absl::StatusOr<StoredObject> got = client.GetObject(kDevelopmentNamespace, "hello.txt");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "hello");
  EXPECT_THAT((*server)->Client(kDevelopmentToken).ListObjects("detector", ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("detector")));

  const stache::info::v1::GetInfoResponse info = GetInfo(**server);
  EXPECT_EQ(Component(info, "backend"), "local " + data_dir);
  EXPECT_THAT(Component(info, "policy"), HasSubstr("development default"));
  EXPECT_EQ(Component(info, "limit"), "max_object_bytes 26214400");
}

TEST(StorageBinaryTest, ItsAdminPortReportsStoredObjectsAndBytes) {
  const int admin_port = stache::testing::PickUnusedPort();
  absl::StatusOr<std::unique_ptr<StorageBinary>> server = StorageBinary::Start(
      {"--data_dir=" + ScratchDir(), absl::StrCat("--admin_port=", admin_port)});
  ASSERT_THAT(server, IsOk());
  StorageClient client = (*server)->Client(kDevelopmentToken);
  ASSERT_THAT(client.PutObject({.ns = kDevelopmentNamespace, .key = "a"}, "12345"),
              IsOk());
  ASSERT_THAT(client.PutObject({.ns = kDevelopmentNamespace, .key = "b"}, "123"), IsOk());
  ASSERT_THAT(client.GetObject(kDevelopmentNamespace, "a"), IsOk());

  httplib::Client admin("127.0.0.1", admin_port);
  httplib::Result metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  ASSERT_EQ(metrics->status, 200);
  const std::string ns = absl::StrCat("{namespace=\"", kDevelopmentNamespace, "\"} ");
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_objects", ns, "2\n")));
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_stored_bytes", ns, "8\n")));
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_written_bytes_total", ns, "8\n")));
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_read_bytes_total", ns, "5\n")));
  // The RPC metrics share the registry.
  EXPECT_THAT(metrics->body, HasSubstr("stache_grpc_server_handled_total{grpc_service="
                                       "\"stache.storage.v1.StorageService\",grpc_method="
                                       "\"Put\",grpc_code=\"OK\"} 2\n"));

  ASSERT_THAT(client.DeleteObject(kDevelopmentNamespace, "a"), IsOk());
  metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_objects", ns, "1\n")));
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat("stache_storage_stored_bytes", ns, "3\n")));
}

TEST(StorageBinaryTest, ThePolicyComesFromAFileOrTheEnvironment) {
  const std::string policy_file = ScratchDir() + "/policy.json";
  std::ofstream(policy_file) << PolicyJson(kFileToken);
  absl::StatusOr<std::unique_ptr<StorageBinary>> from_file = StorageBinary::Start(
      {"--data_dir=" + ScratchDir(), "--auth_policy_file=" + policy_file});
  ASSERT_THAT(from_file, IsOk());
  EXPECT_THAT(
      (*from_file)->Client(kFileToken).PutObject({.ns = "gateway", .key = "k"}, "x"),
      IsOk());
  EXPECT_THAT((*from_file)->Client(kDevelopmentToken).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  EXPECT_THAT(Component(GetInfo(**from_file), "policy"), HasSubstr(policy_file));

  absl::StatusOr<std::unique_ptr<StorageBinary>> from_env =
      StorageBinary::Start({"--data_dir=" + ScratchDir()},
                           {{"STACHE_STORAGE_AUTH_POLICY", PolicyJson(kEnvToken)}});
  ASSERT_THAT(from_env, IsOk());
  EXPECT_THAT(
      (*from_env)->Client(kEnvToken).PutObject({.ns = "gateway", .key = "k"}, "x"),
      IsOk());
  EXPECT_THAT((*from_env)->Client(kDevelopmentToken).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
}

TEST(StorageBinaryTest, MaxObjectBytesIsAFlag) {
  absl::StatusOr<std::unique_ptr<StorageBinary>> server =
      StorageBinary::Start({"--data_dir=" + ScratchDir(), "--max_object_bytes=1000"});
  ASSERT_THAT(server, IsOk());
  StorageClient client = (*server)->Client(kDevelopmentToken);
  EXPECT_THAT(client.PutObject({.ns = "gateway", .key = "fits"}, std::string(1000, 'x')),
              IsOk());
  EXPECT_THAT(
      client.PutObject({.ns = "gateway", .key = "too-big"}, std::string(1001, 'x')),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("1000")));
}

TEST(StorageBinaryTest, BadConfigurationFailsFast) {
  const std::string bad_policy = ScratchDir() + "/bad.json";
  std::ofstream(bad_policy) << R"({"callers": [{"name": "x", "token": "short"}]})";
  const std::vector<
      std::pair<std::vector<std::string>, std::map<std::string, std::string>>>
      cases = {
          {{"--auth_policy_file=" + bad_policy}, {}},
          {{"--auth_policy_file=/nonexistent/policy.json"}, {}},
          {{"--auth_policy_file=" + bad_policy},
           {{"STACHE_STORAGE_AUTH_POLICY", PolicyJson(kEnvToken)}}},
          {{}, {{"STACHE_STORAGE_AUTH_POLICY", "not json"}}},
          {{"--backend=floppy"}, {}},
          {{"--max_object_bytes=0"}, {}},
          {{"--backend=s3", "--s3_endpoint=http://127.0.0.1:1", "--s3_bucket=b"}, {}},
      };
  for (const auto& [flags, env] : cases) {
    std::vector<std::string> all_flags = flags;
    all_flags.push_back("--data_dir=" + ScratchDir());
    auto [code, output] = RunToExit(all_flags, env);
    EXPECT_EQ(code, 1) << output;
  }
}

// #13: the published development token must not open storage to the
// network. Listening beyond loopback without a policy is a startup error
// (nothing is bound: it fails before listening); on loopback it works.
TEST(StorageBinaryTest, TheDevelopmentTokenIsRefusedBeyondLoopback) {
  auto [code, output] = RunToExit({"--host=0.0.0.0", "--data_dir=" + ScratchDir()});
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr("--auth_policy_file"));
  EXPECT_THAT(output, HasSubstr("STACHE_STORAGE_AUTH_POLICY"));

  absl::StatusOr<std::unique_ptr<StorageBinary>> loopback =
      StorageBinary::Start({"--host=127.0.0.1", "--data_dir=" + ScratchDir()});
  ASSERT_THAT(loopback, IsOk());
  EXPECT_THAT((*loopback)
                  ->Client(kDevelopmentToken)
                  .PutObject({.ns = kDevelopmentNamespace, .key = "k"}, "x"),
              IsOk());
}

// #13: a policy secret that did not arrive (an empty variable or file) is
// an error, never the development default.
TEST(StorageBinaryTest, AnEmptyPolicySettingIsAStartupError) {
  const std::string empty_file = ScratchDir() + "/empty.json";
  std::ofstream(empty_file) << "";
  const std::vector<
      std::pair<std::vector<std::string>, std::map<std::string, std::string>>>
      cases = {
          {{}, {{"STACHE_STORAGE_AUTH_POLICY", ""}}},
          {{}, {{"STACHE_AUTH_POLICY_FILE", ""}}},
          {{"--auth_policy_file=" + empty_file}, {}},
      };
  for (const auto& [flags, env] : cases) {
    std::vector<std::string> all_flags = flags;
    all_flags.push_back("--data_dir=" + ScratchDir());
    auto [code, output] = RunToExit(all_flags, env);
    EXPECT_EQ(code, 1) << output;
    EXPECT_THAT(output, HasSubstr("empty"));
  }
}

TEST(StorageBinaryTest, OneProcessPerDataDir) {
  const std::string data_dir = ScratchDir();
  absl::StatusOr<std::unique_ptr<StorageBinary>> first =
      StorageBinary::Start({"--data_dir=" + data_dir});
  ASSERT_THAT(first, IsOk());
  auto [code, output] = RunToExit({"--data_dir=" + data_dir});
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr(data_dir));
}

TEST(StorageBinaryTest, ServesFromS3WithCredentialsFromTheEnvironment) {
  std::string skip_reason;
  MinioServer* minio = MinioServer::Shared(&skip_reason);
  if (minio == nullptr) GTEST_SKIP() << skip_reason;
  absl::StatusOr<std::string> bucket = minio->CreateBucket();
  ASSERT_THAT(bucket, IsOk());
  const std::vector<std::string> flags = {
      "--backend=s3", "--s3_endpoint=" + minio->endpoint(), "--s3_bucket=" + *bucket,
      "--data_dir=" + ScratchDir()};
  absl::StatusOr<std::unique_ptr<StorageBinary>> server =
      StorageBinary::Start(flags, {{"AWS_ACCESS_KEY_ID", testing::kMinioAccessKey},
                                   {"AWS_SECRET_ACCESS_KEY", testing::kMinioSecretKey}});
  ASSERT_THAT(server, IsOk());
  StorageClient client = (*server)->Client(kDevelopmentToken);
  ASSERT_THAT(client.PutObject({.ns = "gateway", .key = "in/s3"}, "bytes in a bucket"),
              IsOk());
  absl::StatusOr<StoredObject> got = client.GetObject("gateway", "in/s3");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "bytes in a bucket");
  EXPECT_EQ(Component(GetInfo(**server), "backend"),
            "s3 " + minio->endpoint() + "/" + *bucket);

  // Without credentials it refuses to start; with wrong ones too.
  EXPECT_EQ(RunToExit(flags).first, 1);
  EXPECT_EQ(RunToExit(flags, {{"AWS_ACCESS_KEY_ID", testing::kMinioAccessKey},
                              {"AWS_SECRET_ACCESS_KEY", "wrong-secret"}})
                .first,
            1);
}

}  // namespace
}  // namespace stache::storage
