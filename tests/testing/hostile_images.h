// Generators of hostile image files for the decoder's tests and the
// bad-input suite: each is a class of attack seen against the services, built
// from a few lines of code rather than committed as a binary.
//
//   std::string bytes = GdalPayloadInFakeWebp(WebpChunk::kVp8, "/etc/hostname");
//   EXPECT_THAT(DecodeImage(bytes, {}), StatusIs(kInvalidArgument));
#ifndef STACHE_TESTS_TESTING_HOSTILE_IMAGES_H_
#define STACHE_TESTS_TESTING_HOSTILE_IMAGES_H_

#include <cstdint>
#include <string>

namespace stache::testing {

enum class WebpChunk { kVp8, kVp8l, kVp8x };

// A file that our WebP header reading accepts and libwebp refuses, with
// GDAL's DTED signature at byte 140 and, from there, a GDAL VRT whose bands
// read `source` (a local path, or a /vsicurl/ URL). OpenCV used to fall
// through from its WebP decoder to GDAL for such bytes, which then read the
// named file into the pixels.
std::string GdalPayloadInFakeWebp(WebpChunk chunk, const std::string& source);

// A 16 x 16, 24-bit BMP header with the given compression (0..3 are valid),
// GDCM's "DICM" signature at 128, then the same DTED and VRT, then enough
// bytes for the pixels: only OpenCV's BMP decoder may see it.
std::string GdalPayloadInBmp(uint32_t compression, const std::string& source);

// An 8-bit grey, uncompressed TIFF whose first directory gives its size
// twice: first `width` x `height`, then 1 x 1. libtiff uses the first; a
// parser that keeps the last sees a 1-pixel image.
std::string TiffWithDuplicateSize(uint32_t width, uint32_t height);

// A TIFF of two 1 x 1 grey pages, of values `first` and `second`.
std::string TwoPageTiff(uint8_t first, uint8_t second);

// The header of an uncompressed TIFF of 32-bit float RGB samples, without
// its pixel data.
std::string FloatTiffHeader(uint32_t width, uint32_t height);

// A PNG whose header announces `width` x `height` 16-bit RGBA pixels (8
// bytes each), with a valid CRC and a token image data chunk.
std::string SixteenBitRgbaPngHeader(uint32_t width, uint32_t height);

// A valid progressive colour JPEG of 16 x 16 pixels with `scans` scans,
// 2..190 (DC, then each AC coefficient of each component alone, then a DC
// refinement): more than libjpeg's encoder would ever choose.
std::string ProgressiveJpegWithScans(int scans);

// A progressive JPEG whose last scan is repeated `repeats` times: tens of
// thousands of tiny scans in a few hundred KB.
std::string JpegWithRepeatedScans(int repeats);

}  // namespace stache::testing

#endif  // STACHE_TESTS_TESTING_HOSTILE_IMAGES_H_
