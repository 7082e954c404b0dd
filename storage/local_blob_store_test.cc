// What only the local backend promises: one blob per distinct content,
// recovery after a crash, one process per data dir, damage detection.
#include "storage/local_blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/internal/sha256.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

namespace fs = std::filesystem;
using ::stache::storage::internal::Sha256Hex;
using ::stache::storage::testing::BytesSource;
using ::stache::storage::testing::ListAll;
using ::stache::storage::testing::PutBytes;
using ::stache::storage::testing::RandomBytes;
using ::stache::storage::testing::ReadObject;
using ::stache::storage::testing::ScratchDir;
using ::stache::storage::testing::StoredBytes;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Every regular file under `dir`.
std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<LocalBlobStore>> store =
        LocalBlobStore::Open({.data_dir = data_dir_, .max_object_bytes = 1 << 20});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  std::vector<fs::path> Blobs() const { return FilesUnder(data_dir_ + "/blobs"); }

  const std::string data_dir_ = ScratchDir() + "/data/storage";
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, CreatesItsDirectoryIncludingParents) {
  EXPECT_TRUE(fs::is_directory(data_dir_ + "/blobs"));
  EXPECT_TRUE(fs::is_regular_file(data_dir_ + "/metadata.db"));
  EXPECT_EQ(store_->BackendLocation(), data_dir_);
}

TEST_F(LocalBlobStoreTest, TheSameContentIsStoredOnceOnDisk) {
  const std::string bytes = RandomBytes(100'000, 7);
  ASSERT_THAT(PutBytes(*store_, "gateway", "first", bytes), IsOk());
  ASSERT_THAT(PutBytes(*store_, "gateway", "second", bytes), IsOk());
  ASSERT_THAT(PutBytes(*store_, "other", "third", bytes), IsOk());
  EXPECT_THAT(Blobs(), ElementsAre(fs::path(store_->BlobPath(Sha256Hex(bytes)))));

  // The blob stays while any object holds it, and goes with the last one.
  ASSERT_THAT(store_->Delete("gateway", "first"), IsOk());
  ASSERT_THAT(store_->Delete("other", "third"), IsOk());
  EXPECT_THAT(Blobs(), SizeIs(1));
  EXPECT_THAT(ReadObject(*store_, "gateway", "second"),
              IsOkAndHolds(Field(&StoredBytes::bytes, bytes)));
  ASSERT_THAT(store_->Delete("gateway", "second"), IsOk());
  EXPECT_THAT(Blobs(), SizeIs(0));
}

TEST_F(LocalBlobStoreTest, ReplacingAnObjectFreesItsOldBlob) {
  ASSERT_THAT(PutBytes(*store_, "gateway", "k", "old bytes"), IsOk());
  ASSERT_THAT(PutBytes(*store_, "gateway", "k", "new bytes"), IsOk());
  EXPECT_THAT(Blobs(), ElementsAre(fs::path(store_->BlobPath(Sha256Hex("new bytes")))));
  // Rewriting the same bytes keeps the one blob.
  ASSERT_THAT(PutBytes(*store_, "gateway", "k", "new bytes"), IsOk());
  EXPECT_THAT(Blobs(), SizeIs(1));
}

TEST_F(LocalBlobStoreTest, ObjectsSurviveReopening) {
  absl::StatusOr<ObjectInfo> put =
      PutBytes(*store_, "gateway", "persisted", "durable bytes");
  ASSERT_THAT(put, IsOk());
  Reopen();
  EXPECT_THAT(ReadObject(*store_, "gateway", "persisted"),
              IsOkAndHolds(Field(&StoredBytes::info, *put)));
  EXPECT_EQ(store_->recovery_report().temp_files_removed, 0);
  EXPECT_EQ(store_->recovery_report().unreferenced_blobs_removed, 0);
}

TEST_F(LocalBlobStoreTest, FailedPutsLeaveNoFilesBehind) {
  BytesSource source(std::string((1 << 20) + 1, 'x'));
  EXPECT_THAT(store_->Put({.ns = "gateway", .key = "big"}, source),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
  BytesSource wrong("bytes");
  EXPECT_THAT(
      store_->Put({.ns = "gateway", .key = "k", .expected_size_bytes = 99}, wrong),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected")));
  EXPECT_THAT(FilesUnder(data_dir_ + "/tmp"), SizeIs(0));
  EXPECT_THAT(Blobs(), SizeIs(0));
}

TEST_F(LocalBlobStoreTest, RecoveryRemovesTempFilesAndUnreferencedBlobsOnly) {
  const std::string kept = "kept bytes";
  ASSERT_THAT(PutBytes(*store_, "gateway", "kept", kept), IsOk());
  store_.reset();
  // What a crash leaves: an upload in flight and a blob renamed into place
  // whose metadata was never committed.
  std::ofstream(data_dir_ + "/tmp/incoming-abc123") << "half an upload";
  const std::string orphan_sha = Sha256Hex("orphan");
  fs::create_directories(data_dir_ + "/blobs/" + orphan_sha.substr(0, 2));
  std::ofstream(data_dir_ + "/blobs/" + orphan_sha.substr(0, 2) + "/" + orphan_sha)
      << "orphan";
  std::ofstream(data_dir_ + "/blobs/README") << "not a blob: left alone";

  Reopen();
  EXPECT_EQ(store_->recovery_report().temp_files_removed, 1);
  EXPECT_EQ(store_->recovery_report().unreferenced_blobs_removed, 1);
  EXPECT_EQ(store_->recovery_report().objects_missing_blobs, 0);
  EXPECT_FALSE(fs::exists(data_dir_ + "/tmp/incoming-abc123"));
  EXPECT_TRUE(fs::exists(data_dir_ + "/blobs/README"));
  EXPECT_THAT(ReadObject(*store_, "gateway", "kept"),
              IsOkAndHolds(Field(&StoredBytes::bytes, kept)));
  EXPECT_THAT(ListAll(*store_, "gateway"), IsOkAndHolds(SizeIs(1)));
}

TEST_F(LocalBlobStoreTest, ASecondStoreOnTheSameDirectoryIsRefused) {
  EXPECT_THAT(LocalBlobStore::Open({.data_dir = data_dir_}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
  store_.reset();
  EXPECT_THAT(LocalBlobStore::Open({.data_dir = data_dir_}), IsOk());
}

TEST_F(LocalBlobStoreTest, DamagedOrMissingBlobsAreDataLoss) {
  ASSERT_THAT(PutBytes(*store_, "gateway", "damaged", "original bytes"), IsOk());
  ASSERT_THAT(PutBytes(*store_, "gateway", "missing", "other bytes"), IsOk());
  std::ofstream(store_->BlobPath(Sha256Hex("original bytes")), std::ios::trunc)
      << "tampered bytes";
  fs::remove(store_->BlobPath(Sha256Hex("other bytes")));
  EXPECT_THAT(ReadObject(*store_, "gateway", "damaged").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no longer match")));
  EXPECT_THAT(ReadObject(*store_, "gateway", "missing").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
  Reopen();
  EXPECT_EQ(store_->recovery_report().objects_missing_blobs, 1);
}

TEST_F(LocalBlobStoreTest, UnusableDataDirFailsToOpen) {
  const std::string file = ScratchDir() + "/a-file";
  std::ofstream(file) << "x";
  EXPECT_THAT(
      LocalBlobStore::Open({.data_dir = file}),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
  EXPECT_THAT(LocalBlobStore::Open({.data_dir = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_dir")));
}

}  // namespace
}  // namespace stache::storage
