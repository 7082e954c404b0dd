#include "imaging/decode_budget.h"

#include <utility>

#include "absl/strings/str_format.h"

namespace stache::imaging {

DecodeMemoryBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DecodeMemoryBudget::Lease& DecodeMemoryBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DecodeMemoryBudget::Lease::~Lease() { Release(); }

void DecodeMemoryBudget::Lease::Release() {
  if (budget_ != nullptr) budget_->Return(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

absl::StatusOr<DecodeMemoryBudget::Lease> DecodeMemoryBudget::Acquire(
    int64_t bytes, absl::Time deadline) {
  if (bytes > capacity_) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "decoding the image needs about %d MB, more than this service allows for all "
        "images at once (%d MB)",
        bytes >> 20, capacity_ >> 20));
  }
  absl::MutexLock lock(&mutex_);
  auto fits = [this, bytes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return in_use_ + bytes <= capacity_;
  };
  if (!mutex_.AwaitWithDeadline(absl::Condition(&fits), deadline)) {
    return absl::ResourceExhaustedError(
        "the service is decoding too many large images at once; try again shortly");
  }
  in_use_ += bytes;
  return Lease(this, bytes);
}

int64_t DecodeMemoryBudget::in_use() const {
  absl::MutexLock lock(&mutex_);
  return in_use_;
}

void DecodeMemoryBudget::Return(int64_t bytes) {
  absl::MutexLock lock(&mutex_);
  in_use_ -= bytes;
}

}  // namespace stache::imaging
