// The few S3 requests the S3 backend needs, over libcurl, signed with AWS
// Signature V4 (sigv4.h) and with path-style URLs, so it works with AWS S3
// and with MinIO alike. ListObjectsV2 answers are parsed
// with pugixml.
//
//   STACHE_ASSIGN_OR_RETURN(auto s3, S3Client::Create({.endpoint =
//   "http://127.0.0.1:9000",
//       .region = "us-east-1", .credentials = {.access_key_id = id, .secret_access_key =
//       secret}}));
//   STACHE_ASSIGN_OR_RETURN(S3ObjectHead head, s3->HeadObject("bucket", "a/b"));
#ifndef STACHE_STORAGE_INTERNAL_S3_CLIENT_H_
#define STACHE_STORAGE_INTERNAL_S3_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/blob_store.h"
#include "storage/s3_credentials.h"

namespace stache::storage::internal {

struct S3ClientOptions {
  // Scheme, host and port: "http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com".
  std::string endpoint;
  std::string region = "us-east-1";
  S3Credentials credentials;
  absl::Duration connect_timeout = absl::Seconds(5);
  // A transfer that moves less than 1 KiB/s for this long fails.
  absl::Duration stall_timeout = absl::Seconds(30);
};

struct S3ObjectHead {
  std::string etag;
  std::string content_type;
  uint64_t size_bytes = 0;
  // User metadata (x-amz-meta-NAME), by lower-case NAME.
  std::map<std::string, std::string> metadata;
};

// The body of a PUT, in memory or in a file read with pread; its SHA-256 is
// signed, so S3 rejects the upload if the bytes change on the way.
struct S3Body {
  absl::string_view bytes;  // used when fd < 0
  int fd = -1;
  uint64_t size_bytes = 0;
  std::string sha256_hex;
};

struct S3ListResult {
  std::vector<std::string> keys;  // in S3's (lexicographic) order
  std::vector<uint64_t> sizes;    // sizes[i]: the size of keys[i] in bytes
  bool truncated = false;
  std::string next_continuation_token;
};

// Thread-safe; reuses connections between requests. Errors: NOT_FOUND for
// a missing object or bucket, FAILED_PRECONDITION when If-Match fails,
// UNAVAILABLE when S3 cannot be reached or is overloaded (after retries),
// INTERNAL for anything else, with S3's error code in the message.
class S3Client final {
 public:
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(S3ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  absl::Status CreateBucket(absl::string_view bucket);
  absl::Status HeadBucket(absl::string_view bucket);
  absl::StatusOr<S3ObjectHead> HeadObject(absl::string_view bucket,
                                          absl::string_view key);
  absl::Status PutObject(absl::string_view bucket, absl::string_view key,
                         const S3Body& body, absl::string_view content_type,
                         const std::map<std::string, std::string>& metadata);
  // Calls `on_head` with the response's headers, then streams the bytes to
  // `on_chunk` (pieces of any size). An error from either stops the transfer.
  absl::Status GetObject(absl::string_view bucket, absl::string_view key,
                         absl::FunctionRef<absl::Status(const S3ObjectHead&)> on_head,
                         ChunkSink on_chunk);
  // The whole object, for small ones.
  absl::StatusOr<std::string> GetObjectBytes(absl::string_view bucket,
                                             absl::string_view key);
  // Succeeds when the object is already gone.
  absl::Status DeleteObject(absl::string_view bucket, absl::string_view key);
  // One ListObjectsV2 page of keys under `prefix`, after `start_after` or
  // continuing from `continuation_token`.
  absl::StatusOr<S3ListResult> ListObjects(absl::string_view bucket,
                                           absl::string_view prefix,
                                           absl::string_view start_after,
                                           absl::string_view continuation_token,
                                           int max_keys);

  const S3ClientOptions& options() const { return options_; }

 private:
  struct Request;
  struct Response;
  // Keys valid until `expiration`.
  struct Keys {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
    absl::Time expiration = absl::InfiniteFuture();
  };
  S3Client(S3ClientOptions options, std::string host)
      : options_(std::move(options)), host_(std::move(host)) {}

  // The static keys, or the container credentials, fetched again when they
  // expire within five minutes.
  absl::StatusOr<Keys> CurrentKeys();
  absl::StatusOr<Keys> FetchContainerKeys();

  // Retries transient failures when nothing was streamed out yet.
  absl::StatusOr<Response> Perform(const Request& request);
  absl::StatusOr<Response> PerformOnce(const Request& request, bool* streamed);
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const S3ClientOptions options_;
  // The endpoint's Host header (signed).
  const std::string host_;
  absl::Mutex mutex_;
  std::vector<void*> idle_handles_ ABSL_GUARDED_BY(mutex_);
  absl::Mutex keys_mutex_;
  std::optional<Keys> keys_ ABSL_GUARDED_BY(keys_mutex_);
};

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_S3_CLIENT_H_
