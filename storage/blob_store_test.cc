// The BlobStore contract, run against every backend: the local directory
// and S3 (a real MinIO server started by the test).
#include "storage/blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/internal/sha256.h"
#include "storage/object_key.h"
#include "storage/testing/minio_server.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::storage::internal::Sha256Hex;
using ::stache::storage::testing::BytesSource;
using ::stache::storage::testing::ListAll;
using ::stache::storage::testing::MakeTestStore;
using ::stache::storage::testing::PutBytes;
using ::stache::storage::testing::RandomBytes;
using ::stache::storage::testing::ReadObject;
using ::stache::storage::testing::StoredBytes;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Le;
using ::testing::SizeIs;

constexpr uint64_t kTestLimit = 4 * 1024 * 1024;

std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& info : objects) keys.push_back(info.key);
  return keys;
}

class BlobStoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip_reason;
    absl::StatusOr<std::unique_ptr<BlobStore>> store =
        MakeTestStore(GetParam(), kTestLimit, &skip_reason);
    ASSERT_THAT(store, IsOk());
    if (*store == nullptr) GTEST_SKIP() << skip_reason;
    store_ = std::move(*store);
  }

  BlobStore& store() { return *store_; }

  std::unique_ptr<BlobStore> store_;
};

TEST_P(BlobStoreContractTest, PutThenGetReturnsTheBytesInChunksWithMetadataFirst) {
  const std::string bytes = RandomBytes(kChunkBytes * 2 + 12345, 1);
  BytesSource source(bytes, 100'000);
  ObjectHeader header{
      .ns = "gateway",
      .key = "originals/2026/cat.jpg",
      .content_type = "image/jpeg",
      .labels = {{"source", "upload"}, {"caption", "chat \xc3\xa9t\xc3\xa9"}}};
  const absl::Time before = absl::Now() - absl::Seconds(1);
  absl::StatusOr<ObjectInfo> put = store().Put(header, source);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->ns, "gateway");
  EXPECT_EQ(put->key, "originals/2026/cat.jpg");
  EXPECT_EQ(put->content_type, "image/jpeg");
  EXPECT_EQ(put->size_bytes, bytes.size());
  EXPECT_EQ(put->sha256_hex, Sha256Hex(bytes));
  EXPECT_EQ(put->labels, header.labels);
  EXPECT_GT(put->create_time, before);
  EXPECT_LT(put->create_time, absl::Now() + absl::Seconds(1));

  absl::StatusOr<StoredBytes> got =
      ReadObject(store(), "gateway", "originals/2026/cat.jpg");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->info, *put);
  EXPECT_TRUE(got->bytes == bytes);
  EXPECT_THAT(got->chunk_sizes, Each(Le(kChunkBytes)));
  EXPECT_THAT(got->chunk_sizes, SizeIs(3));
  EXPECT_THAT(store().Stat("gateway", "originals/2026/cat.jpg"), IsOkAndHolds(*put));
}

TEST_P(BlobStoreContractTest, EmptyObjectsAndDefaultContentType) {
  absl::StatusOr<ObjectInfo> put = PutBytes(store(), "gateway", "empty", "", "");
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size_bytes, 0u);
  EXPECT_EQ(put->content_type, kDefaultContentType);
  EXPECT_EQ(put->sha256_hex, Sha256Hex(""));
  absl::StatusOr<StoredBytes> got = ReadObject(store(), "gateway", "empty");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "");
  EXPECT_EQ(got->info, *put);
}

TEST_P(BlobStoreContractTest, PutReplacesAnExistingObject) {
  ASSERT_THAT(PutBytes(store(), "gateway", "a", "first version"), IsOk());
  absl::StatusOr<ObjectInfo> second =
      PutBytes(store(), "gateway", "a", "second", "text/plain");
  ASSERT_THAT(second, IsOk());
  absl::StatusOr<StoredBytes> got = ReadObject(store(), "gateway", "a");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "second");
  EXPECT_EQ(got->info, *second);
  EXPECT_THAT(ListAll(store(), "gateway"), IsOkAndHolds(ElementsAre(*second)));
}

TEST_P(BlobStoreContractTest, MissingObjectsAreNotFoundWithoutCallbacks) {
  EXPECT_THAT(store().Stat("gateway", "nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  int callbacks = 0;
  EXPECT_THAT(store().Get(
                  "gateway", "nope",
                  [&](const ObjectInfo&) {
                    ++callbacks;
                    return absl::OkStatus();
                  },
                  [&](absl::string_view) {
                    ++callbacks;
                    return absl::OkStatus();
                  }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_EQ(callbacks, 0);
  EXPECT_THAT(store().Delete("gateway", "nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST_P(BlobStoreContractTest, DeleteRemovesTheObject) {
  ASSERT_THAT(PutBytes(store(), "gateway", "doomed", "bytes"), IsOk());
  ASSERT_THAT(PutBytes(store(), "gateway", "kept", "bytes"), IsOk());
  EXPECT_THAT(store().Delete("gateway", "doomed"), IsOk());
  EXPECT_THAT(store().Stat("gateway", "doomed"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("doomed")));
  EXPECT_THAT(ReadObject(store(), "gateway", "doomed").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("doomed")));
  EXPECT_THAT(ListAll(store(), "gateway"),
              IsOkAndHolds(ElementsAre(Field(&ObjectInfo::key, "kept"))));
  EXPECT_THAT(store().Delete("gateway", "doomed"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("doomed")));
  // The remaining object, with the same bytes, is intact.
  EXPECT_THAT(ReadObject(store(), "gateway", "kept"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "bytes")));
}

TEST_P(BlobStoreContractTest, ListIsNewestFirstFilteredByPrefixAndPaged) {
  for (const std::string& key : std::vector<std::string>{
           "results/1", "originals/1", "results/2", "originals/2", "results/3"}) {
    ASSERT_THAT(PutBytes(store(), "gateway", key, "content of " + key), IsOk());
  }
  EXPECT_THAT(ListAll(store(), "gateway").status(), IsOk());
  EXPECT_THAT(
      Keys(*ListAll(store(), "gateway")),
      ElementsAre("results/3", "originals/2", "results/2", "originals/1", "results/1"));
  EXPECT_THAT(Keys(*ListAll(store(), "gateway", "results/")),
              ElementsAre("results/3", "results/2", "results/1"));
  EXPECT_THAT(Keys(*ListAll(store(), "gateway", "orig")),
              ElementsAre("originals/2", "originals/1"));
  EXPECT_THAT(*ListAll(store(), "gateway", "nothing/"), IsEmpty());

  // Pages of two, each token leading to the next page.
  absl::StatusOr<ListPage> first = store().List({.ns = "gateway", .page_size = 2});
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(Keys(first->objects), ElementsAre("results/3", "originals/2"));
  ASSERT_FALSE(first->next_page_token.empty());
  absl::StatusOr<ListPage> second = store().List(
      {.ns = "gateway", .page_size = 2, .page_token = first->next_page_token});
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(Keys(second->objects), ElementsAre("results/2", "originals/1"));
  absl::StatusOr<ListPage> third = store().List(
      {.ns = "gateway", .page_size = 2, .page_token = second->next_page_token});
  ASSERT_THAT(third, IsOk());
  EXPECT_THAT(Keys(third->objects), ElementsAre("results/1"));
  EXPECT_EQ(third->next_page_token, "");
  EXPECT_THAT(Keys(*ListAll(store(), "gateway", "results/", 1)),
              ElementsAre("results/3", "results/2", "results/1"));
}

TEST_P(BlobStoreContractTest, ListPageSizeDefaultsAndIsCapped) {
  for (int i = 0; i < 3; ++i)
    ASSERT_THAT(PutBytes(store(), "gateway", absl::StrCat("k", i), "x"), IsOk());
  absl::StatusOr<ListPage> page = store().List({.ns = "gateway", .page_size = 0});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->objects, SizeIs(3));
  EXPECT_EQ(page->next_page_token, "");
  EXPECT_THAT(store().List({.ns = "gateway", .page_size = 1'000'000}), IsOk());
  EXPECT_THAT(store().List({.ns = "gateway", .page_size = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST_P(BlobStoreContractTest, ListRejectsForeignOrForgedPageTokens) {
  for (int i = 0; i < 3; ++i)
    ASSERT_THAT(PutBytes(store(), "gateway", absl::StrCat("k", i), "x"), IsOk());
  absl::StatusOr<ListPage> first = store().List({.ns = "gateway", .page_size = 1});
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->next_page_token.empty());
  EXPECT_THAT(
      store().List(
          {.ns = "gateway", .key_prefix = "k", .page_token = first->next_page_token}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(store().List({.ns = "other", .page_token = first->next_page_token}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(store().List({.ns = "gateway", .page_token = "not a token!"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_P(BlobStoreContractTest, NamespacesAreSeparate) {
  ASSERT_THAT(PutBytes(store(), "alpha", "shared/key", "alpha bytes"), IsOk());
  ASSERT_THAT(PutBytes(store(), "beta", "shared/key", "beta bytes"), IsOk());
  EXPECT_THAT(ReadObject(store(), "alpha", "shared/key"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "alpha bytes")));
  EXPECT_THAT(ReadObject(store(), "beta", "shared/key"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "beta bytes")));
  EXPECT_THAT(ListAll(store(), "alpha"),
              IsOkAndHolds(ElementsAre(Field(&ObjectInfo::ns, "alpha"))));
  ASSERT_THAT(store().Delete("alpha", "shared/key"), IsOk());
  EXPECT_THAT(ReadObject(store(), "beta", "shared/key"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "beta bytes")));
  EXPECT_THAT(ListAll(store(), "alpha"), IsOkAndHolds(IsEmpty()));
}

TEST_P(BlobStoreContractTest, BadNamesAreInvalidArgumentForEveryOperation) {
  for (const std::string& key :
       std::vector<std::string>{"", "/abs", "a/../b", "..", "a//b", "a/", "sp ace",
                                std::string(kMaxKeyBytes + 1, 'k')}) {
    SCOPED_TRACE(key);
    BytesSource source("x");
    EXPECT_THAT(store().Put({.ns = "gateway", .key = key}, source),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
    EXPECT_EQ(source.calls(), 0);
    EXPECT_THAT(store().Stat("gateway", key),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
    EXPECT_THAT(ReadObject(store(), "gateway", key).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
    EXPECT_THAT(store().Delete("gateway", key),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  }
  // The longest key, with the longest segment: 255 + 1 + 254 + 1 + 1 bytes.
  const std::string longest = std::string(kMaxKeySegmentBytes, 'k') + "/" +
                              std::string(kMaxKeyBytes - kMaxKeySegmentBytes - 3, 'l') +
                              "/m";
  ASSERT_EQ(longest.size(), kMaxKeyBytes);
  EXPECT_THAT(PutBytes(store(), "gateway", longest, "x"), IsOk());
  EXPECT_THAT(ReadObject(store(), "gateway", longest),
              IsOkAndHolds(Field(&StoredBytes::bytes, "x")));
  EXPECT_THAT(ListAll(store(), "gateway", longest.substr(0, 300)),
              IsOkAndHolds(SizeIs(1)));
  for (const std::string& ns : std::vector<std::string>{
           "", "a/b", "..", std::string(kMaxNamespaceBytes + 1, 'n')}) {
    SCOPED_TRACE(ns);
    EXPECT_THAT(PutBytes(store(), ns, "k", "x"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
    EXPECT_THAT(store().Stat(ns, "k"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
    EXPECT_THAT(store().List({.ns = ns}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
    EXPECT_THAT(store().Delete(ns, "k"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
  }
  EXPECT_THAT(store().List({.ns = "gateway", .key_prefix = "../"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")));
}

TEST_P(BlobStoreContractTest, BadLabelsAndContentTypesAreInvalidArgument) {
  BytesSource source("x");
  std::map<std::string, std::string> too_many;
  for (int i = 0; i <= static_cast<int>(kMaxLabels); ++i)
    too_many[absl::StrCat("l", i)] = "v";
  EXPECT_THAT(store().Put({.ns = "gateway", .key = "k", .labels = too_many}, source),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("labels")));
  EXPECT_THAT(store().Put({.ns = "gateway",
                           .key = "k",
                           .labels = {{"k", std::string(kMaxLabelValueBytes + 1, 'v')}}},
                          source),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value")));
  EXPECT_THAT(
      store().Put({.ns = "gateway", .key = "k", .labels = {{"k", "\xff"}}}, source),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_THAT(
      store().Put(
          {.ns = "gateway", .key = "k", .content_type = "text/plain\r\nX-Evil: 1"},
          source),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("content type")));
  EXPECT_EQ(source.calls(), 0);
  EXPECT_THAT(store().Stat("gateway", "k"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("k")));
}

TEST_P(BlobStoreContractTest, OversizeObjectsAreRefusedWhileStreaming) {
  // An endless upload: refused once it passes the limit, not buffered first.
  int calls = 0;
  auto endless = [&](std::string& chunk) -> absl::StatusOr<bool> {
    ++calls;
    chunk.assign(64 * 1024, 'x');
    return true;
  };
  EXPECT_THAT(store().Put({.ns = "gateway", .key = "huge"}, endless),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
  EXPECT_EQ(calls, static_cast<int>(kTestLimit / (64 * 1024)) + 1);
  EXPECT_THAT(store().Stat("gateway", "huge"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("huge")));

  // Announced too large: refused before reading anything.
  BytesSource source("x");
  EXPECT_THAT(
      store().Put({.ns = "gateway", .key = "huge", .expected_size_bytes = kTestLimit + 1},
                  source),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
  EXPECT_EQ(source.calls(), 0);

  // Exactly at the limit is fine.
  EXPECT_THAT(PutBytes(store(), "gateway", "at-limit", std::string(kTestLimit, 'y')),
              IsOk());
  EXPECT_EQ(store().max_object_bytes(), kTestLimit);
}

TEST_P(BlobStoreContractTest, ExpectedSizeAndDigestAreChecked) {
  ASSERT_THAT(PutBytes(store(), "gateway", "k", "original"), IsOk());
  const std::string bytes = "replacement bytes";
  {
    BytesSource source(bytes);
    EXPECT_THAT(
        store().Put(
            {.ns = "gateway", .key = "k", .expected_size_bytes = bytes.size() + 1},
            source),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected")));
  }
  {
    BytesSource source(bytes, 4);
    EXPECT_THAT(
        store().Put({.ns = "gateway", .key = "k", .expected_size_bytes = 3}, source),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr("more than the expected")));
    EXPECT_EQ(source.calls(), 1);  // stopped at the first chunk past the size
  }
  {
    BytesSource source(bytes);
    EXPECT_THAT(
        store().Put(
            {.ns = "gateway", .key = "k", .expected_sha256_hex = Sha256Hex("other")},
            source),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SHA-256")));
  }
  {
    BytesSource source(bytes);
    EXPECT_THAT(
        store().Put({.ns = "gateway", .key = "k", .expected_sha256_hex = "abc"}, source),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected_sha256_hex")));
  }
  // Nothing was stored by the failed Puts.
  EXPECT_THAT(ReadObject(store(), "gateway", "k"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "original")));
  {
    BytesSource source(bytes);
    EXPECT_THAT(
        store().Put({.ns = "gateway",
                     .key = "k",
                     .expected_size_bytes = bytes.size(),
                     .expected_sha256_hex = absl::AsciiStrToUpper(Sha256Hex(bytes))},
                    source),
        IsOk());
  }
  EXPECT_THAT(ReadObject(store(), "gateway", "k"),
              IsOkAndHolds(Field(&StoredBytes::bytes, bytes)));
}

TEST_P(BlobStoreContractTest, AFailingUploadStoresNothing) {
  ASSERT_THAT(PutBytes(store(), "gateway", "k", "original"), IsOk());
  int calls = 0;
  auto broken = [&](std::string& chunk) -> absl::StatusOr<bool> {
    if (++calls > 2) return absl::CancelledError("client went away");
    chunk = "partial";
    return true;
  };
  EXPECT_THAT(store().Put({.ns = "gateway", .key = "k"}, broken),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("went away")));
  EXPECT_THAT(store().Put({.ns = "gateway", .key = "new"}, broken),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("went away")));
  EXPECT_THAT(ReadObject(store(), "gateway", "k"),
              IsOkAndHolds(Field(&StoredBytes::bytes, "original")));
  EXPECT_THAT(store().Stat("gateway", "new"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("new")));
}

TEST_P(BlobStoreContractTest, AGetStopsWhenTheReceiverFails) {
  ASSERT_THAT(PutBytes(store(), "gateway", "big", RandomBytes(3 * kChunkBytes, 2)),
              IsOk());
  int chunks = 0;
  EXPECT_THAT(store().Get(
                  "gateway", "big", [](const ObjectInfo&) { return absl::OkStatus(); },
                  [&](absl::string_view) {
                    ++chunks;
                    return absl::CancelledError("receiver gone");
                  }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("receiver gone")));
  EXPECT_EQ(chunks, 1);
  EXPECT_THAT(store().Get(
                  "gateway", "big",
                  [](const ObjectInfo&) { return absl::AbortedError("no thanks"); },
                  [&](absl::string_view) {
                    ++chunks;
                    return absl::OkStatus();
                  }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("no thanks")));
  EXPECT_EQ(chunks, 1);
}

TEST_P(BlobStoreContractTest, ConcurrentPutsAndGetsFromManyClients) {
  constexpr int kThreads = 8;
  constexpr int kObjectsPerThread = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kObjectsPerThread; ++i) {
        const std::string key = absl::StrCat("t", t, "/o", i);
        // Half the objects share their bytes with another thread's.
        const std::string bytes =
            RandomBytes(20'000 + 1000 * i, i % 2 == 0 ? 1000 + i : t * 100 + i);
        if (!PutBytes(store(), "gateway", key, bytes).ok()) ++failures;
        absl::StatusOr<StoredBytes> got = ReadObject(store(), "gateway", key);
        if (!got.ok() || got->bytes != bytes || got->info.sha256_hex != Sha256Hex(bytes))
          ++failures;
        // Everybody also rewrites and reads one hot key.
        const std::string hot = RandomBytes(10'000, t);
        if (!PutBytes(store(), "gateway", "hot", hot).ok()) ++failures;
        absl::StatusOr<StoredBytes> hot_read = ReadObject(store(), "gateway", "hot");
        if (!hot_read.ok() || Sha256Hex(hot_read->bytes) != hot_read->info.sha256_hex)
          ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<std::vector<ObjectInfo>> all = ListAll(store(), "gateway");
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, SizeIs(kThreads * kObjectsPerThread + 1));
  for (const ObjectInfo& info : *all) {
    absl::StatusOr<StoredBytes> got = ReadObject(store(), "gateway", info.key);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(Sha256Hex(got->bytes), info.sha256_hex) << info.key;
  }
}

TEST_P(BlobStoreContractTest, UsageCountsCurrentObjectsAndBytesPerNamespace) {
  EXPECT_THAT(store().Usage(), IsOkAndHolds(IsEmpty()));
  ASSERT_THAT(PutBytes(store(), "gateway", "originals/1", "12345"), IsOk());
  ASSERT_THAT(PutBytes(store(), "gateway", "originals/2", "123"), IsOk());
  ASSERT_THAT(PutBytes(store(), "gateway", "originals/2", "1234567"),
              IsOk());                                                      // replaced
  ASSERT_THAT(PutBytes(store(), "gateway", "results/1", "12345"), IsOk());  // same bytes
  ASSERT_THAT(PutBytes(store(), "detector", "doomed", "12"), IsOk());
  ASSERT_THAT(PutBytes(store(), "detector", "empty", ""), IsOk());
  ASSERT_THAT(store().Delete("detector", "doomed"), IsOk());
  using Usage = std::map<std::string, NamespaceUsage>;
  EXPECT_THAT(store().Usage(),
              IsOkAndHolds(Usage{{"detector", {.objects = 1, .bytes = 0}},
                                 {"gateway", {.objects = 3, .bytes = 17}}}));
  ASSERT_THAT(store().Delete("detector", "empty"), IsOk());
  EXPECT_THAT(store().Usage(),
              IsOkAndHolds(Usage{{"gateway", {.objects = 3, .bytes = 17}}}));
}

TEST_P(BlobStoreContractTest, NamesItsBackend) {
  EXPECT_EQ(store().BackendName(), GetParam());
  EXPECT_FALSE(store().BackendLocation().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreContractTest,
                         ::testing::Values("local", "s3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace stache::storage
