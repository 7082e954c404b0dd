// A real MinIO server for tests of the S3 backend: started on a free
// loopback port with a temp data dir, one per test binary, with a fresh
// bucket per test. Tests skip (with the reason) only when MinIO is not
// installed or cannot start.
//
//   std::string skip_reason;
//   MinioServer* minio = MinioServer::Shared(&skip_reason);
//   if (minio == nullptr) GTEST_SKIP() << skip_reason;
//   ASSERT_OK_AND_ASSIGN(std::string bucket, minio->CreateBucket());
#ifndef STACHE_STORAGE_TESTING_MINIO_SERVER_H_
#define STACHE_STORAGE_TESTING_MINIO_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/blob_store.h"
#include "storage/internal/s3_client.h"
#include "storage/s3_blob_store.h"
#include "tests/testing/process.h"

namespace stache::storage::testing {

inline constexpr char kMinioAccessKey[] = "stache-test-admin";
inline constexpr char kMinioSecretKey[] = "stache-test-secret-key";

// Thread-safe after Start.
class MinioServer final {
 public:
  static absl::StatusOr<std::unique_ptr<MinioServer>> Start();
  // Started on first use and kept for the rest of the process; nullptr
  // (and why in `skip_reason`) when MinIO is unavailable.
  static MinioServer* Shared(std::string* skip_reason);

  std::string endpoint() const;
  // A new, empty bucket with a unique name.
  absl::StatusOr<std::string> CreateBucket();
  // Options of an S3BlobStore on `bucket` of this server.
  S3BlobStoreOptions StoreOptions(const std::string& bucket) const;
  // A client with the root credentials, to look behind a store's back.
  internal::S3Client& client() { return *client_; }

 private:
  MinioServer(std::unique_ptr<stache::testing::ChildProcess> process, int port,
              std::unique_ptr<internal::S3Client> client);

  std::unique_ptr<stache::testing::ChildProcess> process_;
  int port_;
  std::unique_ptr<internal::S3Client> client_;
};

// A fresh, empty store for a test: "local" (in a temp dir) or "s3" (a new
// bucket of the shared MinIO). nullptr with `skip_reason` set when the
// backend is unavailable here.
absl::StatusOr<std::unique_ptr<BlobStore>> MakeTestStore(const std::string& backend,
                                                         uint64_t max_object_bytes,
                                                         std::string* skip_reason);

}  // namespace stache::storage::testing

#endif  // STACHE_STORAGE_TESTING_MINIO_SERVER_H_
