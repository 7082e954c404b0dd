#include "storage/storage_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/testing/minio_server.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::storage::testing::MakeTestStore;
using ::stache::storage::testing::PutBytes;
using ::stache::testing::IsOk;
using ::testing::HasSubstr;

std::unique_ptr<BlobStore> LocalStore() {
  std::string skip_reason;
  absl::StatusOr<std::unique_ptr<BlobStore>> store =
      MakeTestStore("local", kDefaultMaxObjectBytes, &skip_reason);
  EXPECT_THAT(store, IsOk());
  return store.ok() ? std::move(*store) : nullptr;
}

// A store whose usage cannot be read, as when S3 is unreachable.
class UnreachableStore final : public BlobStore {
 public:
  UnreachableStore() : BlobStore(kDefaultMaxObjectBytes) {}
  absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() override {
    return absl::UnavailableError("S3 cannot be reached");
  }
  std::string BackendName() const override { return "unreachable"; }
  std::string BackendLocation() const override { return ""; }

 protected:
  absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader&, ChunkSource) override {
    return Usage().status();
  }
  absl::Status DoGet(absl::string_view, absl::string_view, InfoSink, ChunkSink) override {
    return Usage().status();
  }
  absl::StatusOr<ObjectInfo> DoStat(absl::string_view, absl::string_view) override {
    return Usage().status();
  }
  absl::StatusOr<ListPage> DoList(const ListQuery&) override { return Usage().status(); }
  absl::Status DoDelete(absl::string_view, absl::string_view) override {
    return Usage().status();
  }
};

TEST(StorageMetricsTest, GaugesFollowTheStoreAndEmptiedNamespacesDropToZero) {
  std::unique_ptr<BlobStore> store = LocalStore();
  ASSERT_NE(store, nullptr);
  server::MetricsRegistry registry;
  StorageMetrics metrics(registry, store.get(), absl::ZeroDuration());
  ASSERT_THAT(PutBytes(*store, "gateway", "a", "1234"), IsOk());
  std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("stache_storage_objects{namespace=\"gateway\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("stache_storage_stored_bytes{namespace=\"gateway\"} 4\n"));

  ASSERT_THAT(store->Delete("gateway", "a"), IsOk());
  text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("stache_storage_objects{namespace=\"gateway\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("stache_storage_stored_bytes{namespace=\"gateway\"} 0\n"));
}

TEST(StorageMetricsTest, UsageIsReadAtMostOncePerMaxAge) {
  std::unique_ptr<BlobStore> store = LocalStore();
  ASSERT_NE(store, nullptr);
  server::MetricsRegistry registry;
  StorageMetrics metrics(registry, store.get(), absl::Hours(1));
  ASSERT_THAT(PutBytes(*store, "gateway", "a", "1234"), IsOk());
  EXPECT_THAT(registry.RenderText(),
              HasSubstr("stache_storage_objects{namespace=\"gateway\"} 1\n"));
  ASSERT_THAT(PutBytes(*store, "gateway", "b", "1234"), IsOk());
  EXPECT_THAT(registry.RenderText(),
              HasSubstr("stache_storage_objects{namespace=\"gateway\"} 1\n"));
}

TEST(StorageMetricsTest, CountsObjectBytesInAndOut) {
  UnreachableStore store;
  server::MetricsRegistry registry;
  StorageMetrics metrics(registry, &store, absl::ZeroDuration());
  metrics.CountWritten("gateway", 100);
  metrics.CountWritten("gateway", 20);
  metrics.CountRead("detector", 7);
  const std::string text = registry.RenderText();
  EXPECT_THAT(
      text, HasSubstr("stache_storage_written_bytes_total{namespace=\"gateway\"} 120\n"));
  EXPECT_THAT(text,
              HasSubstr("stache_storage_read_bytes_total{namespace=\"detector\"} 7\n"));
}

TEST(StorageMetricsTest, AFailedRefreshIsCountedAndRenderingGoesOn) {
  UnreachableStore store;
  server::MetricsRegistry registry;
  StorageMetrics metrics(registry, &store, absl::ZeroDuration());
  registry.RenderText();
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("stache_storage_usage_errors_total 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE stache_storage_objects gauge\n"));
}

}  // namespace
}  // namespace stache::storage
