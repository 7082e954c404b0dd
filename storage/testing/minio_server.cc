#include "storage/testing/minio_server.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/status_macros.h"
#include "storage/local_blob_store.h"
#include "storage/testing/store_helpers.h"

namespace stache::storage::testing {
namespace {

using stache::testing::ChildProcess;
using stache::testing::PickUnusedPort;
using stache::testing::WaitFor;

std::string MinioBinary() {
  const char* from_env = std::getenv("STACHE_MINIO");
  return from_env != nullptr ? from_env : STACHE_MINIO;
}

}  // namespace

MinioServer::MinioServer(std::unique_ptr<ChildProcess> process, int port,
                         std::unique_ptr<internal::S3Client> client)
    : process_(std::move(process)), port_(port), client_(std::move(client)) {}

std::string MinioServer::endpoint() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

absl::StatusOr<std::unique_ptr<MinioServer>> MinioServer::Start() {
  const std::string binary = MinioBinary();
  if (binary.empty() || access(binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("MinIO is not installed (looked for \"", binary,
                     "\"); scripts/setup.sh builds it with go install "
                     "github.com/minio/minio@<pinned>, "
                     "or set STACHE_MINIO to its path"));
  }
  const int port = PickUnusedPort();
  const int console_port = PickUnusedPort();
  auto process = std::make_unique<ChildProcess>(
      std::vector<std::string>{binary, "server", ScratchDir(), "--quiet", "--address",
                               absl::StrCat("127.0.0.1:", port), "--console-address",
                               absl::StrCat("127.0.0.1:", console_port)},
      std::map<std::string, std::string>{{"MINIO_ROOT_USER", kMinioAccessKey},
                                         {"MINIO_ROOT_PASSWORD", kMinioSecretKey},
                                         {"MINIO_BROWSER", "off"},
                                         {"MINIO_UPDATE", "off"}});
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<internal::S3Client> client,
      internal::S3Client::Create({.endpoint = absl::StrCat("http://127.0.0.1:", port),
                                  .credentials = {.access_key_id = kMinioAccessKey,
                                                  .secret_access_key = kMinioSecretKey},
                                  .connect_timeout = absl::Seconds(1)}));
  // Ready once it answers S3 requests: a missing bucket is NOT_FOUND.
  absl::Status probe;
  const bool ready = WaitFor(
      [&] {
        probe = client->HeadBucket("stache-readiness-probe");
        return absl::IsNotFound(probe) || !process->Running();
      },
      absl::Seconds(30));
  if (!ready || !absl::IsNotFound(probe)) {
    return absl::UnavailableError(
        absl::StrCat("MinIO did not start: ", probe.ToString(), "\n", process->Output()));
  }
  return std::unique_ptr<MinioServer>(
      new MinioServer(std::move(process), port, std::move(client)));
}

MinioServer* MinioServer::Shared(std::string* skip_reason) {
  static absl::Mutex mutex(absl::kConstInit);
  static MinioServer* shared = nullptr;
  static std::string* failure = nullptr;
  absl::MutexLock lock(&mutex);
  if (shared == nullptr && failure == nullptr) {
    absl::StatusOr<std::unique_ptr<MinioServer>> started = Start();
    if (started.ok()) {
      // Lives until exit; the ChildProcess destructor is not run then, so
      // MinIO would outlive the test: stop it from an atexit handler.
      shared = started->release();
      std::atexit([] {
        absl::MutexLock lock(&mutex);
        delete shared;
        shared = nullptr;
      });
    } else {
      failure = new std::string(started.status().ToString());
    }
  }
  if (shared == nullptr) *skip_reason = *failure;
  return shared;
}

absl::StatusOr<std::string> MinioServer::CreateBucket() {
  static std::atomic<int> counter{0};
  const std::string bucket = absl::StrCat("stache-test-", getpid(), "-", counter++);
  STACHE_RETURN_IF_ERROR(client_->CreateBucket(bucket));
  return bucket;
}

S3BlobStoreOptions MinioServer::StoreOptions(const std::string& bucket) const {
  return {.endpoint = endpoint(),
          .bucket = bucket,
          .credentials = {.access_key_id = kMinioAccessKey,
                          .secret_access_key = kMinioSecretKey},
          .spool_dir = ScratchDir()};
}

absl::StatusOr<std::unique_ptr<BlobStore>> MakeTestStore(const std::string& backend,
                                                         uint64_t max_object_bytes,
                                                         std::string* skip_reason) {
  if (backend == "local") {
    STACHE_ASSIGN_OR_RETURN(std::unique_ptr<LocalBlobStore> store,
                            LocalBlobStore::Open({.data_dir = ScratchDir() + "/storage",
                                                  .max_object_bytes = max_object_bytes}));
    return store;
  }
  MinioServer* minio = MinioServer::Shared(skip_reason);
  if (minio == nullptr) return nullptr;
  STACHE_ASSIGN_OR_RETURN(const std::string bucket, minio->CreateBucket());
  S3BlobStoreOptions options = minio->StoreOptions(bucket);
  options.max_object_bytes = max_object_bytes;
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<S3BlobStore> store, S3BlobStore::Open(options));
  return store;
}

}  // namespace stache::storage::testing
