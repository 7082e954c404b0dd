#include "server/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace stache::server {
namespace {

#if defined(__GLIBC__)
// A photo-sized buffer comes from the heap, and once freed stays there for
// the next request, instead of being mapped and unmapped (and its pages
// faulted in and zeroed again) each time. Larger buffers keep their own
// mappings, so the memory kept stays bounded.
TEST(AllocatorTest, PhotoSizedBuffersStayInTheHeapForReuse) {
  KeepFreedMemoryForReuse();
  constexpr size_t kPhoto = 4 << 20;  // a 12 MP JPEG is 1-8 MB
  char* photo = static_cast<char*>(std::malloc(kPhoto));
  ASSERT_NE(photo, nullptr);
  std::memset(photo, 1, kPhoto);
  EXPECT_LT(mallinfo2().hblkhd, kPhoto) << "mapped on its own";
  const size_t free_before = mallinfo2().fordblks;
  std::free(photo);
  EXPECT_GE(mallinfo2().fordblks, free_before + kPhoto) << "handed back to the kernel";

  constexpr size_t kHuge = static_cast<size_t>(kMaxHeapAllocationBytes) + (8 << 20);
  char* huge = static_cast<char*>(std::malloc(kHuge));
  ASSERT_NE(huge, nullptr);
  EXPECT_GE(mallinfo2().hblkhd, kHuge) << "a buffer past the limit has its own mapping";
  std::free(huge);
}
#else
TEST(AllocatorTest, PhotoSizedBuffersStayInTheHeapForReuse) {
  GTEST_SKIP() << "KeepFreedMemoryForReuse tunes glibc's allocator only";
}
#endif

}  // namespace
}  // namespace stache::server
