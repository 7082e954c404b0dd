// Small helpers for tests and benchmarks of BlobStore implementations:
// deterministic test bytes, a chunked source, and whole-object reads.
//
//   std::string bytes = RandomBytes(3 << 20, /*seed=*/1);
//   ASSERT_THAT(PutBytes(store, "ns", "a/b", bytes), IsOk());
//   EXPECT_THAT(ReadObject(store, "ns", "a/b"), IsOkAndHolds(Field(&StoredBytes::bytes,
//   bytes)));
#ifndef STACHE_STORAGE_TESTING_STORE_HELPERS_H_
#define STACHE_STORAGE_TESTING_STORE_HELPERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/blob_store.h"

namespace stache::storage::testing {

// A fresh temp dir (stache::testing::MakeTempDir) that is removed when the
// process exits, so stores of tens of megabytes do not pile up in /tmp.
std::string ScratchDir();

// `size` pseudo-random bytes, the same for the same seed.
std::string RandomBytes(size_t size, uint32_t seed);

// A ChunkSource over `bytes` in chunks of `chunk_bytes`; counts its calls.
// Reading consumes it; operator() is const only because absl::FunctionRef
// (ChunkSource) calls through a const reference.
class BytesSource final {
 public:
  explicit BytesSource(std::string bytes, size_t chunk_bytes = 64 * 1024)
      : bytes_(std::move(bytes)), chunk_bytes_(chunk_bytes) {}
  absl::StatusOr<bool> operator()(std::string& chunk) const;
  int calls() const { return calls_; }

 private:
  std::string bytes_;
  size_t chunk_bytes_;
  mutable size_t offset_ = 0;
  mutable int calls_ = 0;
};

absl::StatusOr<ObjectInfo> PutBytes(BlobStore& store, const std::string& ns,
                                    const std::string& key, const std::string& bytes,
                                    const std::string& content_type = "application/test");

struct StoredBytes {
  ObjectInfo info;
  std::string bytes;
  std::vector<size_t> chunk_sizes;
};
absl::StatusOr<StoredBytes> ReadObject(BlobStore& store, const std::string& ns,
                                       const std::string& key);

// Every object of a namespace, following page tokens.
absl::StatusOr<std::vector<ObjectInfo>> ListAll(BlobStore& store, const std::string& ns,
                                                const std::string& key_prefix = "",
                                                int page_size = 0);

}  // namespace stache::storage::testing

#endif  // STACHE_STORAGE_TESTING_STORE_HELPERS_H_
