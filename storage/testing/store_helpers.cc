#include "storage/testing/store_helpers.h"

#include <cstdlib>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/synchronization/mutex.h"
#include "server/status_macros.h"
#include "tests/testing/process.h"

namespace stache::storage::testing {

std::string ScratchDir() {
  static absl::Mutex mutex(absl::kConstInit);
  static std::vector<std::string>* dirs = nullptr;
  std::string dir = stache::testing::MakeTempDir();
  absl::MutexLock lock(&mutex);
  if (dirs == nullptr) {
    dirs = new std::vector<std::string>;
    // Runs after the handlers registered later (MinIO's stop), as atexit
    // runs them in reverse order.
    std::atexit([] {
      absl::MutexLock lock(&mutex);
      std::error_code ignored;
      for (const std::string& dir : *dirs) std::filesystem::remove_all(dir, ignored);
    });
  }
  dirs->push_back(dir);
  return dir;
}

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

absl::StatusOr<bool> BytesSource::operator()(std::string& chunk) const {
  ++calls_;
  if (offset_ >= bytes_.size()) return false;
  chunk = bytes_.substr(offset_, chunk_bytes_);
  offset_ += chunk.size();
  return true;
}

absl::StatusOr<ObjectInfo> PutBytes(BlobStore& store, const std::string& ns,
                                    const std::string& key, const std::string& bytes,
                                    const std::string& content_type) {
  BytesSource source(bytes);
  return store.Put({.ns = ns, .key = key, .content_type = content_type}, source);
}

absl::StatusOr<StoredBytes> ReadObject(BlobStore& store, const std::string& ns,
                                       const std::string& key) {
  StoredBytes stored;
  int infos = 0;
  STACHE_RETURN_IF_ERROR(store.Get(
      ns, key,
      [&](const ObjectInfo& info) {
        stored.info = info;
        ++infos;
        return absl::OkStatus();
      },
      [&](absl::string_view chunk) {
        if (infos != 1) return absl::InternalError("bytes before metadata");
        stored.bytes.append(chunk.data(), chunk.size());
        stored.chunk_sizes.push_back(chunk.size());
        return absl::OkStatus();
      }));
  if (infos != 1) return absl::InternalError("metadata not delivered exactly once");
  return stored;
}

absl::StatusOr<std::vector<ObjectInfo>> ListAll(BlobStore& store, const std::string& ns,
                                                const std::string& key_prefix,
                                                int page_size) {
  std::vector<ObjectInfo> all;
  std::string token;
  for (int pages = 0; pages < 10'000; ++pages) {
    STACHE_ASSIGN_OR_RETURN(ListPage page, store.List({.ns = ns,
                                                       .key_prefix = key_prefix,
                                                       .page_size = page_size,
                                                       .page_token = token}));
    all.insert(all.end(), page.objects.begin(), page.objects.end());
    if (page.next_page_token.empty()) return all;
    token = page.next_page_token;
  }
  return absl::InternalError("List never ended");
}

}  // namespace stache::storage::testing
