// What an encoded image is, read from its first bytes without decoding a
// pixel: format, stored size and EXIF orientation. Plain byte parsing with no
// image library, so services that only need to recognise an upload (the
// gateway) link this and no codec.
//
//   STACHE_ASSIGN_OR_RETURN(ImageHeader header, ReadImageHeader(bytes));
//   response.set_content_type(ImageFormatMimeType(header.format));
#ifndef STACHE_IMAGING_IMAGE_FORMAT_H_
#define STACHE_IMAGING_IMAGE_FORMAT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stache::imaging {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kBmp, kTiff };

// "jpeg", "png", "webp", "bmp", "tiff", "unknown".
const char* ImageFormatName(ImageFormat format);
// "image/jpeg", ...; "application/octet-stream" for kUnknown.
const char* ImageFormatMimeType(ImageFormat format);

struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  // Stored size, before orientation.
  int64_t width = 0;
  int64_t height = 0;
  // EXIF orientation 1..8 (1 = as stored), 1 when absent or invalid.
  int orientation = 1;
};

// Reads format, size and orientation from the first bytes of an encoded
// image without decoding pixels. INVALID_ARGUMENT for empty, truncated or
// unrecognised data, with a message a person understands.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes);

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_IMAGE_FORMAT_H_
