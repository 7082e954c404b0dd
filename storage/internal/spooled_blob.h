// Receives an object's bytes from a ChunkSource into a temp file, hashing
// and counting them on the way and enforcing the size limit as they arrive
// (an oversize upload is refused without being buffered first). Both
// backends store from a SpooledBlob: the local one renames it into place,
// the S3 one uploads it with its digest known in advance.
//
//   STACHE_ASSIGN_OR_RETURN(SpooledBlob blob, SpooledBlob::Receive(
//       tmp_dir, source, {.max_bytes = limit}, SpooledBlob::kDurable));
//   STACHE_RETURN_IF_ERROR(blob.RenameTo(final_path));
#ifndef STACHE_STORAGE_INTERNAL_SPOOLED_BLOB_H_
#define STACHE_STORAGE_INTERNAL_SPOOLED_BLOB_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "storage/blob_store.h"
#include "storage/internal/files.h"

namespace stache::storage::internal {

// Checks applied while receiving.
struct SpoolLimits {
  uint64_t max_bytes = kDefaultMaxObjectBytes;
  std::optional<uint64_t> expected_size_bytes;
  std::string expected_sha256_hex;  // lower-case; empty: not checked
};

// The checks a Put of `header` is received under.
SpoolLimits LimitsFor(const ObjectHeader& header, uint64_t max_object_bytes);

// A received object in a temp file. Removes the file on destruction unless
// it was renamed away. Move-only; not thread-safe.
class SpooledBlob final {
 public:
  enum Mode {
    // fsync'ed and kept under a name in `dir`, ready for RenameTo.
    kDurable,
    // Unlinked as soon as it is created: nothing is left behind by a crash.
    kAnonymous,
  };
  // Temp files are named with this prefix, so recovery can find them.
  static constexpr char kTempPrefix[] = "incoming-";

  // INVALID_ARGUMENT when the bytes do not match the expected size or
  // digest, RESOURCE_EXHAUSTED when they exceed max_bytes, the source's
  // error when it fails.
  static absl::StatusOr<SpooledBlob> Receive(const std::string& dir, ChunkSource source,
                                             const SpoolLimits& limits, Mode mode);

  SpooledBlob(SpooledBlob&& other) noexcept;
  SpooledBlob& operator=(SpooledBlob&& other) noexcept;
  ~SpooledBlob();

  // Open for reading, positioned anywhere (use pread).
  int fd() const { return fd_.get(); }
  uint64_t size_bytes() const { return size_bytes_; }
  const std::string& sha256_hex() const { return sha256_hex_; }

  // kDurable only: atomically moves the file to `target` (same file system),
  // which then owns it. The caller syncs the target's directory.
  absl::Status RenameTo(const std::string& target);

 private:
  SpooledBlob(ScopedFd fd, std::string path);
  void RemoveFile();

  ScopedFd fd_;
  std::string path_;  // empty when anonymous or renamed away
  uint64_t size_bytes_ = 0;
  std::string sha256_hex_;
};

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_SPOOLED_BLOB_H_
