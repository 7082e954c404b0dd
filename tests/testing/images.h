// Byte-level helpers for image tests.
//
//   std::string rotated = WithExifOrientation(jpeg_bytes, 6);
#ifndef STACHE_TESTS_TESTING_IMAGES_H_
#define STACHE_TESTS_TESTING_IMAGES_H_

#include <string>

namespace stache::testing {

// Inserts an EXIF APP1 segment carrying `orientation` (1..8) right after the
// SOI marker of a JPEG, as a phone camera writes it (big-endian TIFF).
std::string WithExifOrientation(const std::string& jpeg, int orientation);

}  // namespace stache::testing

#endif  // STACHE_TESTS_TESTING_IMAGES_H_
