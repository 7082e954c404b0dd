// What only the S3 backend promises: several storage tasks share one bucket
// consistently, leftovers of interrupted writes stay invisible, and a bad
// bucket or bad credentials fail at start-up. Runs against a real MinIO.
#include "storage/s3_blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "storage/internal/s3_client.h"
#include "storage/internal/sha256.h"
#include "storage/testing/minio_server.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::storage::internal::S3Body;
using ::stache::storage::internal::Sha256Hex;
using ::stache::storage::testing::ListAll;
using ::stache::storage::testing::MinioServer;
using ::stache::storage::testing::PutBytes;
using ::stache::storage::testing::ReadObject;
using ::stache::storage::testing::StoredBytes;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& info : objects) keys.push_back(info.key);
  return keys;
}

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip_reason;
    minio_ = MinioServer::Shared(&skip_reason);
    if (minio_ == nullptr) GTEST_SKIP() << skip_reason;
    absl::StatusOr<std::string> bucket = minio_->CreateBucket();
    ASSERT_THAT(bucket, IsOk());
    bucket_ = *bucket;
  }

  std::unique_ptr<S3BlobStore> OpenTask() {
    absl::StatusOr<std::unique_ptr<S3BlobStore>> store =
        S3BlobStore::Open(minio_->StoreOptions(bucket_));
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Keys under `prefix` in the bucket, as S3 lists them.
  std::vector<std::string> BucketKeys(const std::string& prefix) {
    absl::StatusOr<internal::S3ListResult> listing =
        minio_->client().ListObjects(bucket_, prefix, "", "", 1000);
    EXPECT_THAT(listing, IsOk());
    return listing.ok() ? listing->keys : std::vector<std::string>{};
  }

  void PutRaw(const std::string& key, const std::string& bytes,
              const std::map<std::string, std::string>& metadata = {}) {
    ASSERT_THAT(
        minio_->client().PutObject(
            bucket_, key,
            {.bytes = bytes, .size_bytes = bytes.size(), .sha256_hex = Sha256Hex(bytes)},
            "application/octet-stream", metadata),
        IsOk());
  }

  MinioServer* minio_ = nullptr;
  std::string bucket_;
};

TEST_F(S3BlobStoreTest, TasksSharingABucketSeeEachOthersWrites) {
  std::unique_ptr<S3BlobStore> task_a = OpenTask();
  std::unique_ptr<S3BlobStore> task_b = OpenTask();
  ASSERT_NE(task_a, nullptr);
  ASSERT_NE(task_b, nullptr);
  ASSERT_THAT(PutBytes(*task_a, "gateway", "x", "x from a"), IsOk());
  ASSERT_THAT(PutBytes(*task_a, "gateway", "y", "y from a"), IsOk());
  EXPECT_THAT(Keys(*ListAll(*task_b, "gateway")), ElementsAre("y", "x"));

  // B replaces x: both tasks see one x, B's, and it is the newest.
  ASSERT_THAT(PutBytes(*task_b, "gateway", "x", "x from b"), IsOk());
  EXPECT_THAT(Keys(*ListAll(*task_a, "gateway")), ElementsAre("x", "y"));
  EXPECT_THAT(ReadObject(*task_a, "gateway", "x"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "x from b")));

  ASSERT_THAT(task_b->Delete("gateway", "y"), IsOk());
  EXPECT_THAT(task_a->Stat("gateway", "y"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("y")));
  EXPECT_THAT(Keys(*ListAll(*task_a, "gateway")), ElementsAre("x"));
}

TEST_F(S3BlobStoreTest, ReplacingAndDeletingRetireIndexEntries) {
  std::unique_ptr<S3BlobStore> store = OpenTask();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(PutBytes(*store, "gateway", "k", "one"), IsOk());
  ASSERT_THAT(PutBytes(*store, "gateway", "k", "two"), IsOk());
  EXPECT_THAT(BucketKeys("index/gateway/"), SizeIs(1));
  EXPECT_THAT(BucketKeys("objects/gateway/"), ElementsAre("objects/gateway/k"));
  ASSERT_THAT(store->Delete("gateway", "k"), IsOk());
  EXPECT_THAT(BucketKeys("index/gateway/"), IsEmpty());
  EXPECT_THAT(BucketKeys("objects/gateway/"), IsEmpty());
}

TEST_F(S3BlobStoreTest, LeftoversOfInterruptedWritesAreNeverListed) {
  std::unique_ptr<S3BlobStore> store = OpenTask();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<ObjectInfo> real = PutBytes(*store, "gateway", "real", "real bytes");
  ASSERT_THAT(real, IsOk());
  const std::string entry_json =
      R"({"content_type":"x","size_bytes":1,"sha256_hex":"00",)"
      R"("create_time_us":1,"labels":{}})";
  // A Put that died after writing its index entry but before its object,
  // with a newer time than everything else...
  PutRaw("index/gateway/00000000000000001-0123456789abcdef/ghost", entry_json);
  // ...and one that lost the race for an existing key.
  PutRaw("index/gateway/00000000000000002-0123456789abcdef/real", entry_json);
  PutRaw("index/gateway/garbage", "not an entry");

  EXPECT_THAT(ListAll(*store, "gateway"), IsOkAndHolds(ElementsAre(*real)));
  EXPECT_THAT(store->Stat("gateway", "ghost"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ghost")));
  EXPECT_THAT(store->Stat("gateway", "real"), IsOkAndHolds(*real));
}

TEST_F(S3BlobStoreTest, ObjectsNotWrittenByTheServiceAreDataLoss) {
  std::unique_ptr<S3BlobStore> store = OpenTask();
  ASSERT_NE(store, nullptr);
  PutRaw("objects/gateway/foreign", "uploaded by hand");
  EXPECT_THAT(
      store->Stat("gateway", "foreign"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not written by stache-storage")));
  EXPECT_THAT(
      ReadObject(*store, "gateway", "foreign").status(),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not written by stache-storage")));
}

TEST_F(S3BlobStoreTest, UploadsAreSignedWithTheirDigest) {
  // S3 checks the signed x-amz-content-sha256 against what arrives.
  const std::string bytes = "payload";
  EXPECT_THAT(
      minio_->client().PutObject(
          bucket_, "objects/gateway/tampered",
          {.bytes = bytes, .size_bytes = bytes.size(), .sha256_hex = Sha256Hex("other")},
          "text/plain", {}),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("SHA256")));
}

TEST_F(S3BlobStoreTest, OpenFailsFastOnAMissingBucketBadCredentialsOrNoServer) {
  S3BlobStoreOptions options = minio_->StoreOptions("no-such-bucket");
  EXPECT_THAT(S3BlobStore::Open(options), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   HasSubstr("no-such-bucket")));
  options = minio_->StoreOptions(bucket_);
  options.credentials.secret_access_key = "wrong-secret-key";
  EXPECT_THAT(S3BlobStore::Open(options), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   HasSubstr("AWS_SECRET_ACCESS_KEY")));
  options = minio_->StoreOptions(bucket_);
  options.endpoint = absl::StrCat("http://127.0.0.1:", stache::testing::PickUnusedPort());
  options.connect_timeout = absl::Seconds(1);
  EXPECT_THAT(S3BlobStore::Open(options), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   HasSubstr(options.endpoint)));
  options = minio_->StoreOptions(bucket_);
  options.endpoint = "127.0.0.1:9000";
  EXPECT_THAT(S3BlobStore::Open(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("http://")));
  options = minio_->StoreOptions(bucket_);
  options.credentials.access_key_id = "";
  EXPECT_THAT(S3BlobStore::Open(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("AWS_ACCESS_KEY_ID")));
}

// A stand-in for the ECS container credentials endpoint, handing out the
// MinIO keys as temporary credentials that expire in `lifetime`.
class FakeCredentialsEndpoint {
 public:
  explicit FakeCredentialsEndpoint(absl::Duration lifetime) : lifetime_(lifetime) {
    server_.Get("/v2/credentials/task", [this](const httplib::Request& request,
                                               httplib::Response& response) {
      if (request.get_header_value("Authorization") != kAuthorization) {
        response.status = 403;
        return;
      }
      ++fetches_;
      response.set_content(
          nlohmann::json{
              {"AccessKeyId", testing::kMinioAccessKey},
              {"SecretAccessKey", testing::kMinioSecretKey},
              {"Token", ""},
              {"Expiration", absl::FormatTime(absl::RFC3339_sec, absl::Now() + lifetime_,
                                              absl::UTCTimeZone())}}
              .dump(),
          "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeCredentialsEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/v2/credentials/task");
  }
  int fetches() const { return fetches_.load(); }

  static constexpr char kAuthorization[] = "container-authorization-token";

 private:
  const absl::Duration lifetime_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> fetches_{0};
};

TEST_F(S3BlobStoreTest, UsesAnEcsTaskRolesCredentialsAndRefreshesThem) {
  S3BlobStoreOptions options = minio_->StoreOptions(bucket_);
  {
    FakeCredentialsEndpoint endpoint(absl::Hours(1));
    options.credentials = {
        .container_credentials_url = endpoint.url(),
        .container_authorization = FakeCredentialsEndpoint::kAuthorization};
    absl::StatusOr<std::unique_ptr<S3BlobStore>> store = S3BlobStore::Open(options);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT(PutBytes(**store, "gateway", "k", "bytes"), IsOk());
    EXPECT_THAT(ReadObject(**store, "gateway", "k"),
                IsOkAndHolds(Field(&StoredBytes::bytes, "bytes")));
    EXPECT_EQ(endpoint.fetches(), 1);  // cached while valid
  }
  {
    // Keys within five minutes of expiring are fetched again before use.
    FakeCredentialsEndpoint endpoint(absl::Minutes(2));
    options.credentials.container_credentials_url = endpoint.url();
    absl::StatusOr<std::unique_ptr<S3BlobStore>> store = S3BlobStore::Open(options);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Stat("gateway", "k"), IsOk());
    EXPECT_GE(endpoint.fetches(), 3);
  }
  {
    FakeCredentialsEndpoint endpoint(absl::Hours(1));
    options.credentials = {.container_credentials_url = endpoint.url(),
                           .container_authorization = "wrong"};
    EXPECT_THAT(S3BlobStore::Open(options),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("container credentials")));
  }
}

}  // namespace
}  // namespace stache::storage
