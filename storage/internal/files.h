// POSIX file plumbing for crash-safe writes: an owning file descriptor,
// full writes and reads, directory fsync and errno-to-Status conversion.
//
//   STACHE_ASSIGN_OR_RETURN(ScopedFd fd, OpenFile(path, O_RDONLY));
//   STACHE_RETURN_IF_ERROR(SyncDirectory(dir));
#ifndef STACHE_STORAGE_INTERNAL_FILES_H_
#define STACHE_STORAGE_INTERNAL_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stache::storage::internal {

// Owns a file descriptor; closes it on destruction. Move-only.
class ScopedFd final {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.Release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset();

 private:
  int fd_ = -1;
};

// `what` and `path` describe the failed operation; the code follows errno
// (ENOENT: NOT_FOUND, ENOSPC/EDQUOT: RESOURCE_EXHAUSTED, else INTERNAL).
absl::Status ErrnoError(int error_number, absl::string_view what, absl::string_view path);

absl::StatusOr<ScopedFd> OpenFile(const std::string& path, int flags, mode_t mode = 0);
absl::Status WriteAll(int fd, absl::string_view data, absl::string_view path);
// Reads up to `max_bytes`; an empty result means end of file.
absl::StatusOr<std::string> ReadChunk(int fd, size_t max_bytes, absl::string_view path);
// Makes the directory's entries (creations, renames) durable.
absl::Status SyncDirectory(const std::string& path);
// Creates `path` and missing parents, durably (each parent is synced after
// a directory is created in it).
absl::Status EnsureDirectory(const std::string& path);

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_FILES_H_
