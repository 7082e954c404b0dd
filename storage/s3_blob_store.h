// The scale-out backend: objects in an S3 bucket (AWS S3 or MinIO) that any
// number of storage tasks share. Requests are signed with libcurl's AWS
// SigV4 support; credentials come from the caller (main reads them from the
// environment, never from flags) and may be an ECS task role's.
//
//   STACHE_ASSIGN_OR_RETURN(std::unique_ptr<S3BlobStore> store, S3BlobStore::Open({
//       .endpoint = "https://s3.eu-west-1.amazonaws.com", .region = "eu-west-1",
//       .bucket = "stache-prod", .credentials = {.access_key_id = id, .secret_access_key
//       = secret}}));
//
// Layout of the bucket:
//   objects/<ns>/<key>                 the bytes; Content-Type; user metadata
//                                      stache-entry (its index entry) and
//                                      stache-sha256
//   index/<ns>/<entry>/<key>           JSON metadata (labels, digest, time);
//                                      <entry> = <inverted µs time>-<random>,
//                                      so S3's lexicographic listing is
//                                      newest first
// A Put writes the index entry, then the object naming it: the object PUT is
// the commit point. An entry whose object does not name it (a Put that
// failed or lost a race, or a Delete cut short) is skipped by List, so
// concurrent writers in several tasks never show a half-written object.
// Unlike the local backend, S3 keeps one copy per key: deduplicating across
// tasks would need reference counts that S3 cannot update atomically.
#ifndef STACHE_STORAGE_S3_BLOB_STORE_H_
#define STACHE_STORAGE_S3_BLOB_STORE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "storage/blob_store.h"
#include "storage/s3_credentials.h"

namespace stache::storage {
namespace internal {
class S3Client;
struct S3ObjectHead;
}  // namespace internal

struct S3BlobStoreOptions {
  std::string endpoint;  // "http://127.0.0.1:9000"; path-style URLs are used
  std::string region = "us-east-1";
  std::string bucket;
  S3Credentials credentials;
  // Uploads are received here (unlinked temp files) before going to S3, so
  // that their size and digest are checked before anything is stored.
  std::string spool_dir = "./data/storage/spool";
  uint64_t max_object_bytes = kDefaultMaxObjectBytes;
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Thread-safe.
class S3BlobStore final : public BlobStore {
 public:
  // Fails fast when the bucket cannot be reached with these credentials.
  static absl::StatusOr<std::unique_ptr<S3BlobStore>> Open(
      const S3BlobStoreOptions& options);
  ~S3BlobStore() override;

  std::string BackendName() const override { return "s3"; }
  std::string BackendLocation() const override;
  absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() override;

 protected:
  absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader& header,
                                   ChunkSource source) override;
  absl::Status DoGet(absl::string_view ns, absl::string_view key, InfoSink on_info,
                     ChunkSink on_chunk) override;
  absl::StatusOr<ObjectInfo> DoStat(absl::string_view ns, absl::string_view key) override;
  absl::StatusOr<ListPage> DoList(const ListQuery& query) override;
  absl::Status DoDelete(absl::string_view ns, absl::string_view key) override;

 private:
  S3BlobStore(const S3BlobStoreOptions& options,
              std::unique_ptr<internal::S3Client> client);

  // The metadata of the object whose data object has these headers.
  // NOT_FOUND when its entry is gone: the object was replaced meanwhile.
  absl::StatusOr<ObjectInfo> ReadIndexEntry(absl::string_view ns, absl::string_view key,
                                            const internal::S3ObjectHead& head);

  const std::string bucket_;
  const std::string spool_dir_;
  const std::unique_ptr<internal::S3Client> client_;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_S3_BLOB_STORE_H_
