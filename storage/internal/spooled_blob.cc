#include "storage/internal/spooled_blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "server/status_macros.h"
#include "storage/internal/sha256.h"

namespace stache::storage::internal {
namespace {

absl::Status TooLarge(uint64_t max_bytes) {
  return absl::ResourceExhaustedError(
      absl::StrCat("object exceeds the limit of ", max_bytes, " bytes"));
}

}  // namespace

SpoolLimits LimitsFor(const ObjectHeader& header, uint64_t max_object_bytes) {
  return {.max_bytes = max_object_bytes,
          .expected_size_bytes = header.expected_size_bytes,
          .expected_sha256_hex = header.expected_sha256_hex};
}

SpooledBlob::SpooledBlob(ScopedFd fd, std::string path)
    : fd_(std::move(fd)), path_(std::move(path)) {}

SpooledBlob::SpooledBlob(SpooledBlob&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::exchange(other.path_, "")),
      size_bytes_(other.size_bytes_),
      sha256_hex_(std::move(other.sha256_hex_)) {}

SpooledBlob& SpooledBlob::operator=(SpooledBlob&& other) noexcept {
  if (this != &other) {
    RemoveFile();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, "");
    size_bytes_ = other.size_bytes_;
    sha256_hex_ = std::move(other.sha256_hex_);
  }
  return *this;
}

SpooledBlob::~SpooledBlob() { RemoveFile(); }

void SpooledBlob::RemoveFile() {
  if (!path_.empty()) unlink(path_.c_str());
  path_.clear();
}

absl::StatusOr<SpooledBlob> SpooledBlob::Receive(const std::string& dir,
                                                 ChunkSource source,
                                                 const SpoolLimits& limits, Mode mode) {
  std::string name = absl::StrCat(dir, "/", kTempPrefix, "XXXXXX");
  const int raw_fd = mkostemp(name.data(), O_CLOEXEC);
  if (raw_fd < 0) return ErrnoError(errno, "create a temp file in", dir);
  SpooledBlob blob(ScopedFd(raw_fd), name);
  if (mode == kAnonymous) blob.RemoveFile();

  Sha256 hash;
  std::string chunk;
  while (true) {
    chunk.clear();
    STACHE_ASSIGN_OR_RETURN(const bool more, source(chunk));
    if (!more) break;
    blob.size_bytes_ += chunk.size();
    if (blob.size_bytes_ > limits.max_bytes) return TooLarge(limits.max_bytes);
    if (limits.expected_size_bytes.has_value() &&
        blob.size_bytes_ > *limits.expected_size_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "received more than the expected ", *limits.expected_size_bytes, " bytes"));
    }
    hash.Update(chunk);
    STACHE_RETURN_IF_ERROR(WriteAll(blob.fd(), chunk, name));
  }
  blob.sha256_hex_ = hash.HexDigest();
  if (limits.expected_size_bytes.has_value() &&
      blob.size_bytes_ != *limits.expected_size_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "received ", blob.size_bytes_, " bytes, expected ", *limits.expected_size_bytes));
  }
  if (!limits.expected_sha256_hex.empty() &&
      blob.sha256_hex_ != limits.expected_sha256_hex) {
    return absl::InvalidArgumentError(absl::StrCat("received bytes have SHA-256 ",
                                                   blob.sha256_hex_, ", expected ",
                                                   limits.expected_sha256_hex));
  }
  if (mode == kDurable && fsync(blob.fd()) != 0) return ErrnoError(errno, "fsync", name);
  return blob;
}

absl::Status SpooledBlob::RenameTo(const std::string& target) {
  if (path_.empty()) {
    return absl::FailedPreconditionError("an anonymous spooled blob cannot be renamed");
  }
  if (rename(path_.c_str(), target.c_str()) != 0) {
    return ErrnoError(errno, absl::StrCat("rename ", path_, " to"), target);
  }
  path_.clear();
  return absl::OkStatus();
}

}  // namespace stache::storage::internal
