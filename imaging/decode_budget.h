// A per-process budget, in bytes, for the memory that image decodes in
// flight may hold. Each decode reserves its estimated peak before anything is
// allocated and keeps the reservation as long as the decoded pixels live, so
// that many concurrent uploads of large images cannot add up to more memory
// than the process has. A caller over the budget waits briefly for others to
// finish, then gets RESOURCE_EXHAUSTED.
//
//   DecodeMemoryBudget budget(1 << 30);
//   STACHE_ASSIGN_OR_RETURN(DecodeMemoryBudget::Lease lease,
//                           budget.Acquire(bytes, absl::Now() + absl::Seconds(1)));
#ifndef STACHE_IMAGING_DECODE_BUDGET_H_
#define STACHE_IMAGING_DECODE_BUDGET_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stache::imaging {

// Thread-safe. Must outlive every Lease it hands out.
class DecodeMemoryBudget final {
 public:
  // A reservation; move-only, returned to the budget when destroyed.
  class Lease final {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    int64_t bytes() const { return bytes_; }

   private:
    friend class DecodeMemoryBudget;
    Lease(DecodeMemoryBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    void Release();

    DecodeMemoryBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  explicit DecodeMemoryBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  DecodeMemoryBudget(const DecodeMemoryBudget&) = delete;
  DecodeMemoryBudget& operator=(const DecodeMemoryBudget&) = delete;

  // Reserves `bytes`, waiting until `deadline` for room. RESOURCE_EXHAUSTED
  // at once when `bytes` exceeds the whole budget, and at the deadline.
  absl::StatusOr<Lease> Acquire(int64_t bytes, absl::Time deadline);

  int64_t capacity() const { return capacity_; }
  int64_t in_use() const;

 private:
  void Return(int64_t bytes);

  const int64_t capacity_;
  mutable absl::Mutex mutex_;
  int64_t in_use_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_DECODE_BUDGET_H_
