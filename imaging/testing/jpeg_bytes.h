// Byte-level edits of JPEG files for the imaging and overlay tests.
//
//   std::string bomb = WithJpegSize(jpeg, 65000, 65000);
#ifndef STACHE_IMAGING_TESTING_JPEG_BYTES_H_
#define STACHE_IMAGING_TESTING_JPEG_BYTES_H_

#include <cstdint>
#include <string>

namespace stache::imaging::testing {

// `jpeg` with the size its first frame header (baseline or progressive)
// announces rewritten; unchanged when it has none.
std::string WithJpegSize(std::string jpeg, uint16_t width, uint16_t height);

}  // namespace stache::imaging::testing

#endif  // STACHE_IMAGING_TESTING_JPEG_BYTES_H_
