// Where stored objects live: an abstract BlobStore with the operations of
// stache.storage.v1.StorageService in plain C++ (LocalBlobStore and
// S3BlobStore implement it). The public methods validate names, labels and
// limits once for every backend, then call the backend.
//
//   ObjectHeader header{.ns = "gateway", .key = "originals/1.jpg",
//                       .content_type = "image/jpeg"};
//   STACHE_ASSIGN_OR_RETURN(ObjectInfo info, store.Put(header, next_chunk));
#ifndef STACHE_STORAGE_BLOB_STORE_H_
#define STACHE_STORAGE_BLOB_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::storage {

// 25 MiB: a 25 MB image with room to spare for re-encoded results.
inline constexpr uint64_t kDefaultMaxObjectBytes = 25 * 1024 * 1024;
// Get delivers objects in chunks of this size (the last one may be shorter).
inline constexpr size_t kChunkBytes = 1024 * 1024;
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
// Stored when a Put names no content type.
inline constexpr char kDefaultContentType[] = "application/octet-stream";

// Metadata of a stored object.
struct ObjectInfo {
  std::string ns;  // namespace
  std::string key;
  std::string content_type;
  uint64_t size_bytes = 0;
  std::string sha256_hex;  // lower-case hex
  absl::Time create_time;
  std::map<std::string, std::string> labels;

  friend bool operator==(const ObjectInfo&, const ObjectInfo&) = default;
};

// What a Put stores besides the bytes.
struct ObjectHeader {
  std::string ns;
  std::string key;
  std::string content_type;  // empty: kDefaultContentType
  std::map<std::string, std::string> labels;
  // When set, nothing is stored unless the bytes received match.
  std::optional<uint64_t> expected_size_bytes;
  std::string expected_sha256_hex;  // empty: not checked; either case
};

struct ListQuery {
  std::string ns;
  std::string key_prefix;
  int page_size = 0;  // 0: kDefaultPageSize; above kMaxPageSize: kMaxPageSize
  std::string page_token;
};

// What one namespace holds now.
struct NamespaceUsage {
  uint64_t objects = 0;
  uint64_t bytes = 0;  // the sum of the objects' sizes

  friend bool operator==(const NamespaceUsage&, const NamespaceUsage&) = default;
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // newest first
  std::string next_page_token;      // empty on the last page
};

// Produces the bytes of an object being stored, in order: fills `chunk` and
// returns true while there are more, returns false at the end, or an error
// (for example a cancelled upload) which aborts the Put.
using ChunkSource = absl::FunctionRef<absl::StatusOr<bool>(std::string& chunk)>;
// Receives an object's metadata before any of its bytes.
using InfoSink = absl::FunctionRef<absl::Status(const ObjectInfo& info)>;
// Receives an object's bytes in order; an error stops the transfer.
using ChunkSink = absl::FunctionRef<absl::Status(absl::string_view chunk)>;

// Implementations are thread-safe: any number of Puts, Gets, Lists and
// Deletes may run at once. A Put is atomic: readers see the old object or
// the new one, never part of it, and an acknowledged Put survives a crash.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Stores the bytes from `source` under header.ns/header.key, replacing
  // any object there. INVALID_ARGUMENT for bad names, labels or a mismatch
  // with the expected size or digest; RESOURCE_EXHAUSTED as soon as the
  // object grows past max_object_bytes().
  absl::StatusOr<ObjectInfo> Put(const ObjectHeader& header, ChunkSource source);
  // Calls `on_info`, then `on_chunk` for chunks of at most kChunkBytes.
  // NOT_FOUND (before any callback) when there is no such object; DATA_LOSS
  // (after the bytes) if they no longer match their digest.
  absl::Status Get(absl::string_view ns, absl::string_view key, InfoSink on_info,
                   ChunkSink on_chunk);
  absl::StatusOr<ObjectInfo> Stat(absl::string_view ns, absl::string_view key);
  // Objects whose key starts with query.key_prefix, newest first. A page
  // may hold fewer than page_size objects and still have a next page.
  absl::StatusOr<ListPage> List(const ListQuery& query);
  // NOT_FOUND when there is no such object.
  absl::Status Delete(absl::string_view ns, absl::string_view key);

  // Objects and bytes by namespace, for metrics; namespaces holding
  // nothing are left out. Costs a scan of the metadata (S3: one listing
  // request per 1000 objects).
  virtual absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() = 0;

  uint64_t max_object_bytes() const { return max_object_bytes_; }
  // "local" or "s3", and where the data lives, for GetInfo.
  virtual std::string BackendName() const = 0;
  virtual std::string BackendLocation() const = 0;

 protected:
  explicit BlobStore(uint64_t max_object_bytes) : max_object_bytes_(max_object_bytes) {}

  // Called with validated arguments: names follow object_key.h, the content
  // type is set, expected_sha256_hex is empty or lower-case, page_size is in
  // 1..kMaxPageSize.
  virtual absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader& header,
                                           ChunkSource source) = 0;
  virtual absl::Status DoGet(absl::string_view ns, absl::string_view key,
                             InfoSink on_info, ChunkSink on_chunk) = 0;
  virtual absl::StatusOr<ObjectInfo> DoStat(absl::string_view ns,
                                            absl::string_view key) = 0;
  virtual absl::StatusOr<ListPage> DoList(const ListQuery& query) = 0;
  virtual absl::Status DoDelete(absl::string_view ns, absl::string_view key) = 0;

 private:
  const uint64_t max_object_bytes_;
};

// The status of an object that does not exist, worded the same by every
// backend.
absl::Status ObjectNotFoundError(absl::string_view ns, absl::string_view key);

}  // namespace stache::storage

#endif  // STACHE_STORAGE_BLOB_STORE_H_
