// The embedded backend: objects in a local directory, content-addressed and
// deduplicated, metadata in SQLite. Crash-safe: a blob is written to a temp
// file, fsync'ed, renamed into place and its directory fsync'ed before the
// metadata naming it is committed (WAL, synchronous=FULL), so after a crash
// no half-written object is visible and no acknowledged object is missing.
//
//   STACHE_ASSIGN_OR_RETURN(std::unique_ptr<LocalBlobStore> store,
//                           LocalBlobStore::Open({.data_dir = "./data/storage"}));
//
// Layout of data_dir:
//   LOCK                  held (flock) by the one process using the directory
//   metadata.db           SQLite: one row per object, naming its blob
//   blobs/ab/abcdef...    a blob, named by the SHA-256 of its bytes; stored
//                         once however many objects hold the same bytes
//   tmp/incoming-XXXXXX   uploads in flight; removed on start-up
#ifndef STACHE_STORAGE_LOCAL_BLOB_STORE_H_
#define STACHE_STORAGE_LOCAL_BLOB_STORE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/blob_store.h"
#include "storage/internal/files.h"
#include "storage/internal/spooled_blob.h"
#include "storage/internal/sqlite.h"

namespace stache::storage {

struct LocalBlobStoreOptions {
  std::string data_dir = "./data/storage";
  uint64_t max_object_bytes = kDefaultMaxObjectBytes;
};

// What start-up recovery found and repaired.
struct LocalRecoveryReport {
  int temp_files_removed = 0;
  // Blobs no object refers to (a crash between writing a blob and
  // committing its metadata, or during a Delete): removed.
  int unreferenced_blobs_removed = 0;
  // Objects whose blob is gone (only if something outside this service
  // deleted files): reported, Get answers DATA_LOSS for them.
  int objects_missing_blobs = 0;
};

// Thread-safe. Owns the data directory while open: a second process (or a
// second LocalBlobStore) on the same directory fails to open.
class LocalBlobStore final : public BlobStore {
 public:
  // Creates the directory if needed, locks it, recovers from a crash and
  // opens the metadata. FAILED_PRECONDITION when another process holds it.
  static absl::StatusOr<std::unique_ptr<LocalBlobStore>> Open(
      const LocalBlobStoreOptions& options);

  std::string BackendName() const override { return "local"; }
  std::string BackendLocation() const override { return data_dir_; }
  absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() override;

  const LocalRecoveryReport& recovery_report() const { return recovery_report_; }
  // Where the blob with this digest lives (tests check deduplication here).
  std::string BlobPath(absl::string_view sha256_hex) const;

 protected:
  absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader& header,
                                   ChunkSource source) override;
  absl::Status DoGet(absl::string_view ns, absl::string_view key, InfoSink on_info,
                     ChunkSink on_chunk) override;
  absl::StatusOr<ObjectInfo> DoStat(absl::string_view ns, absl::string_view key) override;
  absl::StatusOr<ListPage> DoList(const ListQuery& query) override;
  absl::Status DoDelete(absl::string_view ns, absl::string_view key) override;

 private:
  LocalBlobStore(const LocalBlobStoreOptions& options, internal::ScopedFd lock,
                 internal::SqliteDb writer, internal::SqliteDb reader);

  // Runs once in Open, before any request.
  absl::Status Recover();
  // Commits `blob` as header.ns/header.key. Holds write_mutex_.
  absl::StatusOr<ObjectInfo> Commit(const ObjectHeader& header,
                                    internal::SpooledBlob& blob);
  absl::StatusOr<bool> BlobReferenced(absl::string_view sha256_hex)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mutex_);
  absl::StatusOr<ObjectInfo> Lookup(absl::string_view ns, absl::string_view key);
  std::string BlobDir(absl::string_view sha256_hex) const;

  const std::string data_dir_;
  const std::string tmp_dir_;
  const internal::ScopedFd lock_;
  LocalRecoveryReport recovery_report_;

  // Serializes every change: publishing a blob, committing its metadata and
  // removing blobs nothing refers to any more happen as one step, so that a
  // Delete never removes a blob a concurrent Put has just relied on.
  absl::Mutex write_mutex_;
  internal::SqliteDb writer_ ABSL_GUARDED_BY(write_mutex_);
  // Readers use their own connection (WAL lets it run alongside a commit).
  absl::Mutex read_mutex_;
  internal::SqliteDb reader_ ABSL_GUARDED_BY(read_mutex_);
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_LOCAL_BLOB_STORE_H_
