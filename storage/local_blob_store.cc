#include "storage/local_blob_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/status_macros.h"
#include "storage/internal/page_token.h"
#include "storage/internal/sha256.h"
#include "storage/internal/spooled_blob.h"

namespace stache::storage {
namespace {

using internal::ScopedFd;
using internal::SpooledBlob;
using internal::SqliteDb;
using internal::SqliteStatement;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS objects (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  labels_json TEXT NOT NULL,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_newest_first
  ON objects (namespace, create_time_us DESC, key);
CREATE INDEX IF NOT EXISTS objects_by_blob ON objects (sha256);
)sql";

constexpr char kObjectColumns[] =
    "namespace, key, content_type, size_bytes, sha256, create_time_us, labels_json";

// Full durability: a commit returns only once the WAL is on disk.
constexpr char kConnectionPragmas[] =
    "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;";

// Named in the error a second process gets.
constexpr char kLockFile[] = "LOCK";

absl::StatusOr<SqliteDb> OpenDatabase(const std::string& path) {
  STACHE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  STACHE_RETURN_IF_ERROR(db.Execute("PRAGMA journal_mode = WAL;"));
  STACHE_RETURN_IF_ERROR(db.Execute(kConnectionPragmas));
  return db;
}

absl::StatusOr<ObjectInfo> ReadObjectRow(const SqliteStatement& row) {
  ObjectInfo info{.ns = row.ColumnText(0),
                  .key = row.ColumnText(1),
                  .content_type = row.ColumnText(2),
                  .size_bytes = static_cast<uint64_t>(row.ColumnInt64(3)),
                  .sha256_hex = row.ColumnText(4),
                  .create_time = absl::FromUnixMicros(row.ColumnInt64(5))};
  const std::string labels_json = row.ColumnText(6);
  try {
    info.labels =
        nlohmann::json::parse(labels_json).get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& error) {
    return absl::DataLossError(
        absl::StrCat("labels of \"", info.key, "\" are unreadable: ", error.what()));
  }
  return info;
}

// Position of an object in newest-first order, for page tokens.
std::string ListPosition(const ObjectInfo& info) {
  return absl::StrFormat("%020d:%s", absl::ToUnixMicros(info.create_time), info.key);
}

absl::Status ParseListPosition(absl::string_view position, int64_t* micros,
                               std::string* key) {
  const size_t colon = position.find(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(position.substr(0, colon), micros)) {
    return absl::InvalidArgumentError("page_token is malformed");
  }
  *key = std::string(position.substr(colon + 1));
  return absl::OkStatus();
}

// Runs `body` in a write transaction; rolls back if it or the commit fails.
absl::Status InTransaction(SqliteDb& db, const std::function<absl::Status()>& body) {
  STACHE_RETURN_IF_ERROR(db.Execute("BEGIN IMMEDIATE"));
  absl::Status status = body();
  if (status.ok()) status = db.Execute("COMMIT");
  if (!status.ok()) (void)db.Execute("ROLLBACK");
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Open(
    const LocalBlobStoreOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("the local backend needs a --data_dir");
  }
  STACHE_RETURN_IF_ERROR(internal::EnsureDirectory(options.data_dir));
  const std::string lock_path = absl::StrCat(options.data_dir, "/", kLockFile);
  STACHE_ASSIGN_OR_RETURN(ScopedFd lock,
                          internal::OpenFile(lock_path, O_RDWR | O_CREAT, 0644));
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", options.data_dir, " is in use by another stache-storage process (",
          lock_path, " is locked)"));
    }
    return internal::ErrnoError(errno, "lock", lock_path);
  }
  STACHE_RETURN_IF_ERROR(internal::EnsureDirectory(options.data_dir + "/tmp"));
  STACHE_RETURN_IF_ERROR(internal::EnsureDirectory(options.data_dir + "/blobs"));

  const std::string db_path = options.data_dir + "/metadata.db";
  STACHE_ASSIGN_OR_RETURN(SqliteDb writer, OpenDatabase(db_path));
  STACHE_RETURN_IF_ERROR(writer.Execute(kSchema));
  STACHE_ASSIGN_OR_RETURN(SqliteDb reader, OpenDatabase(db_path));

  std::unique_ptr<LocalBlobStore> store(
      new LocalBlobStore(options, std::move(lock), std::move(writer), std::move(reader)));
  STACHE_RETURN_IF_ERROR(store->Recover());
  return store;
}

LocalBlobStore::LocalBlobStore(const LocalBlobStoreOptions& options, ScopedFd lock,
                               SqliteDb writer, SqliteDb reader)
    : BlobStore(options.max_object_bytes),
      data_dir_(options.data_dir),
      tmp_dir_(options.data_dir + "/tmp"),
      lock_(std::move(lock)),
      writer_(std::move(writer)),
      reader_(std::move(reader)) {}

std::string LocalBlobStore::BlobDir(absl::string_view sha256_hex) const {
  return absl::StrCat(data_dir_, "/blobs/", sha256_hex.substr(0, 2));
}

std::string LocalBlobStore::BlobPath(absl::string_view sha256_hex) const {
  return absl::StrCat(BlobDir(sha256_hex), "/", sha256_hex);
}

absl::Status LocalBlobStore::Recover() {
  namespace fs = std::filesystem;
  std::error_code error;
  // Uploads that were in flight when the last process died: never committed.
  for (const fs::directory_entry& entry : fs::directory_iterator(tmp_dir_, error)) {
    if (fs::remove(entry.path(), error)) ++recovery_report_.temp_files_removed;
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot clean ", tmp_dir_, ": ", error.message()));
  }

  absl::MutexLock lock(&write_mutex_);
  // Blobs written but never committed (or whose last object was deleted
  // just before a crash) are garbage; nothing can refer to them any more.
  for (const fs::directory_entry& fan_out :
       fs::directory_iterator(data_dir_ + "/blobs", error)) {
    if (!fan_out.is_directory()) continue;
    for (const fs::directory_entry& entry :
         fs::directory_iterator(fan_out.path(), error)) {
      const std::string name = entry.path().filename().string();
      if (!internal::IsSha256Hex(name)) continue;  // not ours: leave it alone
      STACHE_ASSIGN_OR_RETURN(const bool referenced, BlobReferenced(name));
      if (!referenced && fs::remove(entry.path(), error)) {
        ++recovery_report_.unreferenced_blobs_removed;
      }
    }
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot scan ", data_dir_, "/blobs: ", error.message()));
  }

  STACHE_ASSIGN_OR_RETURN(SqliteStatement blobs,
                          writer_.Prepare("SELECT DISTINCT sha256 FROM objects"));
  while (true) {
    STACHE_ASSIGN_OR_RETURN(const bool has_row, blobs.Step());
    if (!has_row) break;
    if (!fs::exists(BlobPath(blobs.ColumnText(0)), error)) {
      ++recovery_report_.objects_missing_blobs;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LocalBlobStore::BlobReferenced(absl::string_view sha256_hex) {
  STACHE_ASSIGN_OR_RETURN(
      SqliteStatement select,
      writer_.Prepare("SELECT 1 FROM objects WHERE sha256 = ?1 LIMIT 1"));
  select.Bind(1, sha256_hex);
  return select.Step();
}

absl::StatusOr<ObjectInfo> LocalBlobStore::DoPut(const ObjectHeader& header,
                                                 ChunkSource source) {
  // Receiving and fsync'ing the bytes happens outside any lock, so uploads
  // proceed in parallel; only the short commit below is serialized.
  STACHE_ASSIGN_OR_RETURN(
      SpooledBlob blob,
      SpooledBlob::Receive(tmp_dir_, source,
                           internal::LimitsFor(header, max_object_bytes()),
                           SpooledBlob::kDurable));
  return Commit(header, blob);
}

absl::StatusOr<ObjectInfo> LocalBlobStore::Commit(const ObjectHeader& header,
                                                  SpooledBlob& blob) {
  ObjectInfo info{.ns = header.ns,
                  .key = header.key,
                  .content_type = header.content_type,
                  .size_bytes = blob.size_bytes(),
                  .sha256_hex = blob.sha256_hex(),
                  .labels = header.labels};
  const std::string blob_path = BlobPath(info.sha256_hex);

  absl::MutexLock lock(&write_mutex_);
  info.create_time = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  bool published = false;
  std::string replaced_blob;  // set when the replaced object's blob is now unused
  absl::Status status = InTransaction(writer_, [&]() -> absl::Status {
    STACHE_ASSIGN_OR_RETURN(const bool deduplicated, BlobReferenced(info.sha256_hex));
    if (!deduplicated) {
      // The blob is durable under its final name before any metadata
      // points at it.
      STACHE_RETURN_IF_ERROR(internal::EnsureDirectory(BlobDir(info.sha256_hex)));
      STACHE_RETURN_IF_ERROR(blob.RenameTo(blob_path));
      published = true;
      STACHE_RETURN_IF_ERROR(internal::SyncDirectory(BlobDir(info.sha256_hex)));
    }
    STACHE_ASSIGN_OR_RETURN(
        SqliteStatement previous,
        writer_.Prepare("SELECT sha256 FROM objects WHERE namespace = ?1 AND key = ?2"));
    previous.Bind(1, info.ns);
    previous.Bind(2, info.key);
    STACHE_ASSIGN_OR_RETURN(const bool replaces, previous.Step());
    const std::string previous_sha = replaces ? previous.ColumnText(0) : "";

    STACHE_ASSIGN_OR_RETURN(
        SqliteStatement insert,
        writer_.Prepare(absl::StrCat("INSERT OR REPLACE INTO objects (", kObjectColumns,
                                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")));
    insert.Bind(1, info.ns);
    insert.Bind(2, info.key);
    insert.Bind(3, info.content_type);
    insert.Bind(4, static_cast<int64_t>(info.size_bytes));
    insert.Bind(5, info.sha256_hex);
    insert.Bind(6, absl::ToUnixMicros(info.create_time));
    insert.Bind(7, nlohmann::json(info.labels).dump());
    STACHE_RETURN_IF_ERROR(insert.Run());

    if (replaces && previous_sha != info.sha256_hex) {
      STACHE_ASSIGN_OR_RETURN(const bool still_used, BlobReferenced(previous_sha));
      if (!still_used) replaced_blob = previous_sha;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    // Nothing refers to the blob we published: take it back.
    if (published) unlink(blob_path.c_str());
    return status;
  }
  // After the commit; a crash before this unlink leaves a blob that
  // recovery removes.
  if (!replaced_blob.empty()) unlink(BlobPath(replaced_blob).c_str());
  return info;
}

absl::StatusOr<ObjectInfo> LocalBlobStore::Lookup(absl::string_view ns,
                                                  absl::string_view key) {
  absl::MutexLock lock(&read_mutex_);
  STACHE_ASSIGN_OR_RETURN(
      SqliteStatement select,
      reader_.Prepare(absl::StrCat("SELECT ", kObjectColumns,
                                   " FROM objects WHERE namespace = ?1 AND key = ?2")));
  select.Bind(1, ns);
  select.Bind(2, key);
  STACHE_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) return ObjectNotFoundError(ns, key);
  return ReadObjectRow(select);
}

absl::StatusOr<std::map<std::string, NamespaceUsage>> LocalBlobStore::Usage() {
  absl::MutexLock lock(&read_mutex_);
  STACHE_ASSIGN_OR_RETURN(SqliteStatement select,
                          reader_.Prepare("SELECT namespace, COUNT(*), SUM(size_bytes) "
                                          "FROM objects GROUP BY namespace"));
  std::map<std::string, NamespaceUsage> usage;
  while (true) {
    STACHE_ASSIGN_OR_RETURN(const bool found, select.Step());
    if (!found) break;
    usage[select.ColumnText(0)] = {
        .objects = static_cast<uint64_t>(select.ColumnInt64(1)),
        .bytes = static_cast<uint64_t>(select.ColumnInt64(2))};
  }
  return usage;
}

absl::StatusOr<ObjectInfo> LocalBlobStore::DoStat(absl::string_view ns,
                                                  absl::string_view key) {
  return Lookup(ns, key);
}

absl::Status LocalBlobStore::DoGet(absl::string_view ns, absl::string_view key,
                                   InfoSink on_info, ChunkSink on_chunk) {
  // A concurrent Put or Delete may replace the object, and remove its blob,
  // between the lookup and the open; then look again. Once open, the blob
  // stays readable even if it is unlinked.
  constexpr int kAttempts = 3;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    STACHE_ASSIGN_OR_RETURN(const ObjectInfo info, Lookup(ns, key));
    const std::string path = BlobPath(info.sha256_hex);
    absl::StatusOr<ScopedFd> file = internal::OpenFile(path, O_RDONLY);
    if (absl::IsNotFound(file.status())) {
      absl::StatusOr<ObjectInfo> again = Lookup(ns, key);
      if (again.ok() && again->sha256_hex == info.sha256_hex) {
        return absl::DataLossError(absl::StrCat("the bytes of \"", key,
                                                "\" in namespace \"", ns,
                                                "\" are missing from ", path));
      }
      continue;
    }
    if (!file.ok()) return file.status();

    STACHE_RETURN_IF_ERROR(on_info(info));
    internal::Sha256 hash;
    uint64_t sent = 0;
    while (true) {
      STACHE_ASSIGN_OR_RETURN(const std::string chunk,
                              internal::ReadChunk(file->get(), kChunkBytes, path));
      if (chunk.empty()) break;
      hash.Update(chunk);
      sent += chunk.size();
      STACHE_RETURN_IF_ERROR(on_chunk(chunk));
    }
    if (sent != info.size_bytes || hash.HexDigest() != info.sha256_hex) {
      return absl::DataLossError(
          absl::StrCat("the bytes of \"", key, "\" in namespace \"", ns,
                       "\" no longer match their SHA-256 (", path, " is damaged)"));
    }
    return absl::OkStatus();
  }
  return absl::AbortedError(
      absl::StrCat("\"", key, "\" was replaced repeatedly while being read; retry"));
}

absl::StatusOr<ListPage> LocalBlobStore::DoList(const ListQuery& query) {
  STACHE_ASSIGN_OR_RETURN(const std::string after, internal::DecodePageToken(query));
  int64_t after_micros = 0;
  std::string after_key;
  if (!after.empty())
    STACHE_RETURN_IF_ERROR(ParseListPosition(after, &after_micros, &after_key));

  absl::MutexLock lock(&read_mutex_);
  STACHE_ASSIGN_OR_RETURN(
      SqliteStatement select,
      reader_.Prepare(absl::StrCat(
          "SELECT ", kObjectColumns,
          " FROM objects WHERE namespace = ?1 AND substr(key, 1, ?2) = ?3"
          " AND (?4 = 0 OR create_time_us < ?5 OR (create_time_us = ?5 AND key > ?6))"
          " ORDER BY create_time_us DESC, key ASC LIMIT ?7")));
  select.Bind(1, query.ns);
  select.Bind(2, static_cast<int64_t>(query.key_prefix.size()));
  select.Bind(3, query.key_prefix);
  select.Bind(4, static_cast<int64_t>(after.empty() ? 0 : 1));
  select.Bind(5, after_micros);
  select.Bind(6, after_key);
  // One more than a page tells whether another page follows.
  select.Bind(7, static_cast<int64_t>(query.page_size) + 1);
  ListPage page;
  while (true) {
    STACHE_ASSIGN_OR_RETURN(const bool has_row, select.Step());
    if (!has_row) break;
    if (page.objects.size() == static_cast<size_t>(query.page_size)) {
      page.next_page_token =
          internal::EncodePageToken(query, ListPosition(page.objects.back()));
      break;
    }
    STACHE_ASSIGN_OR_RETURN(ObjectInfo info, ReadObjectRow(select));
    page.objects.push_back(std::move(info));
  }
  return page;
}

absl::Status LocalBlobStore::DoDelete(absl::string_view ns, absl::string_view key) {
  absl::MutexLock lock(&write_mutex_);
  std::string unused_blob;
  STACHE_RETURN_IF_ERROR(InTransaction(writer_, [&]() -> absl::Status {
    STACHE_ASSIGN_OR_RETURN(
        SqliteStatement select,
        writer_.Prepare("SELECT sha256 FROM objects WHERE namespace = ?1 AND key = ?2"));
    select.Bind(1, ns);
    select.Bind(2, key);
    STACHE_ASSIGN_OR_RETURN(const bool found, select.Step());
    if (!found) return ObjectNotFoundError(ns, key);
    const std::string sha256_hex = select.ColumnText(0);
    STACHE_ASSIGN_OR_RETURN(
        SqliteStatement remove,
        writer_.Prepare("DELETE FROM objects WHERE namespace = ?1 AND key = ?2"));
    remove.Bind(1, ns);
    remove.Bind(2, key);
    STACHE_RETURN_IF_ERROR(remove.Run());
    STACHE_ASSIGN_OR_RETURN(const bool still_used, BlobReferenced(sha256_hex));
    if (!still_used) unused_blob = sha256_hex;
    return absl::OkStatus();
  }));
  // Under the lock, so a concurrent Put of the same bytes cannot rely on
  // this blob in between.
  if (!unused_blob.empty()) unlink(BlobPath(unused_blob).c_str());
  return absl::OkStatus();
}

}  // namespace stache::storage
