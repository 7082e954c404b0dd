#include "storage/internal/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace stache::storage::internal {

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

int ScopedFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void ScopedFd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status ErrnoError(int error_number, absl::string_view what,
                        absl::string_view path) {
  const std::string message =
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error_number));
  switch (error_number) {
    case ENOENT:
      return absl::NotFoundError(message);
    case ENOSPC:
    case EDQUOT:
      // Callers see this one (it is not the caller's fault, but it is a
      // limit they can understand), so it names no path.
      return absl::ResourceExhaustedError(absl::StrCat(
          "the storage backend's disk is full (", std::strerror(error_number), ")"));
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<ScopedFd> OpenFile(const std::string& path, int flags, mode_t mode) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(errno, "open", path);
  return ScopedFd(fd);
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view path) {
  while (!data.empty()) {
    const ssize_t written = write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadChunk(int fd, size_t max_bytes, absl::string_view path) {
  std::string chunk(max_bytes, '\0');
  size_t filled = 0;
  while (filled < max_bytes) {
    const ssize_t got = read(fd, chunk.data() + filled, max_bytes - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  chunk.resize(filled);
  return chunk;
}

absl::Status SyncDirectory(const std::string& path) {
  absl::StatusOr<ScopedFd> dir = OpenFile(path, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return dir.status();
  if (fsync(dir->get()) != 0) return ErrnoError(errno, "fsync directory", path);
  return absl::OkStatus();
}

absl::Status EnsureDirectory(const std::string& path) {
  const std::filesystem::path parent_path = std::filesystem::path(path).parent_path();
  const std::string parent =
      parent_path.empty() ? std::string(".") : parent_path.string();
  if (mkdir(path.c_str(), 0755) == 0) return SyncDirectory(parent);
  if (errno == ENOENT && parent != path) {
    if (absl::Status status = EnsureDirectory(parent); !status.ok()) return status;
    if (mkdir(path.c_str(), 0755) == 0) return SyncDirectory(parent);
  }
  if (errno != EEXIST) return ErrnoError(errno, "create directory", path);
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace stache::storage::internal
