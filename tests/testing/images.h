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

// Inserts a DQT segment redefining quantisation table 0 (all 7s) before the
// second scan of a JPEG with several scans: a decoder keeps the table each
// component started with, libjpeg's transcoder refuses to write it. "" when
// the JPEG has a single scan.
std::string WithTableRedefinedBeforeSecondScan(const std::string& jpeg);

}  // namespace stache::testing

#endif  // STACHE_TESTS_TESTING_IMAGES_H_
