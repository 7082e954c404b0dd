// Crash safety of the real binary on its local backend: concurrent Puts,
// SIGKILL at several points (after a few, some and many acknowledgements,
// and in the middle of a large upload), restart on the same data dir. Every
// acknowledged Put must be readable with its SHA-256, and whatever List
// shows must be complete.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/status_macros.h"
#include "storage/internal/sha256.h"
#include "storage/namespace_policy.h"
#include "storage/testing/storage_binary.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::storage::internal::Sha256Hex;
using ::stache::storage::testing::RandomBytes;
using ::stache::storage::testing::ScratchDir;
using ::stache::storage::testing::StorageBinary;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;

constexpr int kWriters = 6;
constexpr const char* kNamespace = kDevelopmentNamespace;
constexpr char kUnfinishedKey[] = "large/unfinished";

// What the writers did before the crash.
struct Ledger {
  absl::Mutex mutex;
  std::map<std::string, std::string> attempted ABSL_GUARDED_BY(mutex);     // key -> sha
  std::map<std::string, std::string> acknowledged ABSL_GUARDED_BY(mutex);  // key -> sha
  std::atomic<int> acknowledgements{0};
};

// Puts objects of varied sizes until the server goes away.
void Write(const StorageBinary& server, int writer, Ledger& ledger) {
  StorageClient client = server.Client(kDevelopmentToken);
  for (int i = 0; i < 10'000; ++i) {
    const std::string key = absl::StrCat("writer", writer, "/object", i);
    const std::string bytes = RandomBytes(1000 + (writer * 7919 + i * 104729) % 1'500'000,
                                          static_cast<uint32_t>(writer * 100'000 + i));
    const std::string sha = Sha256Hex(bytes);
    {
      absl::MutexLock lock(&ledger.mutex);
      ledger.attempted[key] = sha;
    }
    if (!client.PutObject({.ns = kNamespace, .key = key}, bytes).ok()) return;
    absl::MutexLock lock(&ledger.mutex);
    ledger.acknowledged[key] = sha;
    ++ledger.acknowledgements;
  }
}

// Sends half of a large object and holds the upload open until the server
// is killed; `started` is set once that half is on its way.
void HoldLargeUploadOpen(const StorageBinary& server, std::atomic<bool>& started,
                         const std::atomic<bool>& killed) {
  auto stub = v1::StorageService::NewStub(server.channel());
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", kDevelopmentToken));
  v1::PutResponse response;
  auto writer = stub->Put(&context, &response);
  v1::PutRequest header;
  header.mutable_header()->set_namespace_(kNamespace);
  header.mutable_header()->set_key(kUnfinishedKey);
  if (!writer->Write(header)) return;
  v1::PutRequest chunk;
  chunk.set_chunk(RandomBytes(kChunkBytes, 99));
  for (int i = 0; i < 10; ++i) {
    if (!writer->Write(chunk)) return;
  }
  started = true;
  WaitFor([&] { return killed.load(); }, absl::Seconds(60));
  writer->WritesDone();
  (void)writer->Finish();
}

class StorageDurabilityTest : public ::testing::TestWithParam<int> {};

TEST_P(StorageDurabilityTest,
       AcknowledgedPutsSurviveSigkillAndNothingHalfWrittenIsListed) {
  const int kill_after_acknowledgements = GetParam();
  const std::string data_dir = ScratchDir() + "/storage";
  Ledger ledger;
  {
    absl::StatusOr<std::unique_ptr<StorageBinary>> server =
        StorageBinary::Start({"--data_dir=" + data_dir});
    ASSERT_THAT(server, IsOk());
    std::atomic<bool> large_upload_started{false};
    std::atomic<bool> killed{false};
    std::vector<std::thread> threads;
    for (int writer = 0; writer < kWriters; ++writer) {
      threads.emplace_back([&, writer] { Write(**server, writer, ledger); });
    }
    threads.emplace_back(
        [&] { HoldLargeUploadOpen(**server, large_upload_started, killed); });
    ASSERT_TRUE(WaitFor(
        [&] {
          return ledger.acknowledgements.load() >= kill_after_acknowledgements &&
                 large_upload_started.load();
        },
        absl::Seconds(60)));
    (*server)->process().Signal(SIGKILL);
    killed = true;
    EXPECT_EQ((*server)->process().Wait(absl::Seconds(10)), -SIGKILL);
    for (std::thread& thread : threads) thread.join();
  }

  absl::StatusOr<std::unique_ptr<StorageBinary>> restarted =
      StorageBinary::Start({"--data_dir=" + data_dir});
  ASSERT_THAT(restarted, IsOk());
  StorageClient client = (*restarted)->Client(kDevelopmentToken);
  absl::MutexLock lock(&ledger.mutex);
  ASSERT_GE(static_cast<int>(ledger.acknowledged.size()), kill_after_acknowledgements);

  // Nothing acknowledged is lost.
  for (const auto& [key, sha] : ledger.acknowledged) {
    absl::StatusOr<StoredObject> object = client.GetObject(kNamespace, key);
    ASSERT_THAT(object, IsOk()) << key;
    EXPECT_EQ(object->info.sha256_hex(), sha) << key;
    EXPECT_EQ(Sha256Hex(object->bytes), sha) << key;
  }
  // The upload cut off by the crash left no object.
  EXPECT_THAT(client.StatObject(kNamespace, kUnfinishedKey),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(kUnfinishedKey)));
  // Everything listed is an object someone sent, complete.
  std::string token;
  int listed = 0;
  do {
    absl::StatusOr<v1::ListResponse> page =
        client.ListObjects(kNamespace, "", 1000, token);
    ASSERT_THAT(page, IsOk());
    for (const v1::ObjectInfo& info : page->objects()) {
      ++listed;
      ASSERT_TRUE(ledger.attempted.contains(info.key())) << info.key();
      EXPECT_EQ(info.sha256_hex(), ledger.attempted.at(info.key())) << info.key();
      absl::StatusOr<StoredObject> object = client.GetObject(kNamespace, info.key());
      ASSERT_THAT(object, IsOk()) << info.key();
      EXPECT_EQ(Sha256Hex(object->bytes), info.sha256_hex()) << info.key();
    }
    token = page->next_page_token();
  } while (!token.empty());
  EXPECT_GE(listed, static_cast<int>(ledger.acknowledged.size()));
  EXPECT_LE(listed, static_cast<int>(ledger.attempted.size()));
  // Recovery cleared the uploads that were in flight.
  EXPECT_THAT(std::filesystem::directory_iterator(data_dir + "/tmp") ==
                  std::filesystem::directory_iterator(),
              ::testing::IsTrue());
}

// Each time with six Puts and a half-sent 10 MiB upload in flight: right
// away, and after 1, 15 and 60 acknowledged Puts.
INSTANTIATE_TEST_SUITE_P(KillPoints, StorageDurabilityTest,
                         ::testing::Values(0, 1, 15, 60), [](const auto& info) {
                           return absl::StrCat("After", info.param, "Acks");
                         });

}  // namespace
}  // namespace stache::storage
