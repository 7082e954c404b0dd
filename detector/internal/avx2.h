// Whether the detector's hot loops can take their AVX2 paths: built only
// where the compiler can target AVX2 (x86-64 with GCC or Clang), taken only
// where the CPU has it. Each such loop keeps a portable path for the rest.
//
//   #ifdef STACHE_AVX2
//   if (use_avx2 && CpuHasAvx2()) return LoopAvx2(...);
//   #endif
//   return LoopPortable(...);
#ifndef STACHE_DETECTOR_INTERNAL_AVX2_H_
#define STACHE_DETECTOR_INTERNAL_AVX2_H_

#if defined(__x86_64__) && defined(__GNUC__)
#define STACHE_AVX2 1
#include <immintrin.h>

namespace stache::detector::internal {

// Asked of the CPU once.
inline bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

}  // namespace stache::detector::internal
#endif

#endif  // STACHE_DETECTOR_INTERNAL_AVX2_H_
