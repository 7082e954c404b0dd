// Keeps the memory of large buffers in the process for reuse instead of
// handing it back to the kernel after every request.
//
//   int main(int argc, char** argv) {
//     stache::server::ParseFlags(argc, argv, "...");
//     stache::server::KeepFreedMemoryForReuse();
//
// Every request moves photos of up to tens of megabytes (bodies, protobuf
// messages, decoded pixels). glibc's defaults give buffers of a few
// megabytes their own mappings, or trim the heap once they are freed, so
// the next request's buffers are mapped, faulted in and zeroed again; on a
// virtual machine that is expensive (measured: the gateway spent most of
// its CPU in page faults and copies into fresh pages).
#ifndef STACHE_SERVER_ALLOCATOR_H_
#define STACHE_SERVER_ALLOCATOR_H_

#include <cstdint>

namespace stache::server {

// Allocations up to kMaxHeapAllocationBytes come from the heap (not their
// own mapping), and free memory at the top of a heap is kept up to
// kKeptFreeBytes. Call once, early in main, before threads start. A no-op
// outside glibc.
void KeepFreedMemoryForReuse();

// glibc's largest mmap threshold on 64-bit: a 12 MP photo's decoded pixels
// (36 MB) are still mapped and unmapped on their own.
inline constexpr int64_t kMaxHeapAllocationBytes = int64_t{32} << 20;
// What a heap may keep free: a few requests' worth, bounded, so that an idle
// service's memory still falls back after a burst of large photos.
inline constexpr int64_t kKeptFreeBytes = int64_t{64} << 20;

}  // namespace stache::server

#endif  // STACHE_SERVER_ALLOCATOR_H_
