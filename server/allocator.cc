#include "server/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace stache::server {

void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  // Setting either turns off glibc's dynamic thresholds, which start at
  // 128 KiB and only grow after a mapped buffer has been freed.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMaxHeapAllocationBytes));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(kKeptFreeBytes));
#endif
}

}  // namespace stache::server
