// Safe image decoding shared by the detector and the overlay, so that both
// see the same pixels in the same orientation:
//  - the header is parsed first (format, size, EXIF orientation) without
//    decoding pixels, and an image announcing more than the pixel limit is
//    refused before anything is allocated (decompression bombs);
//  - OpenCV decodes only after that check, and library exceptions become
//    Status values;
//  - EXIF orientation (JPEG APP1, TIFF) is applied, so coordinates refer to
//    the image as a viewer sees it.
//
//   STACHE_ASSIGN_OR_RETURN(DecodedImage image,
//                           DecodeImage(bytes, {.max_pixels = 40'000'000}));
//   cv::Mat bgr = image.pixels;  // CV_8UC3, orientation applied
#ifndef STACHE_IMAGING_IMAGE_DECODER_H_
#define STACHE_IMAGING_IMAGE_DECODER_H_

#include <cstdint>
#include <functional>
#include <string>

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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

struct DecodeLimits {
  // Largest width*height accepted (stored size).
  int64_t max_pixels = 40'000'000;
  // Keep an alpha channel when the image has one (CV_8UC4 then).
  bool keep_alpha = false;
  // Decoding stops with DEADLINE_EXCEEDED once this has passed (the calling
  // RPC's deadline), and with CANCELLED once `cancelled` returns true.
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
};

struct DecodedImage {
  // CV_8UC3 BGR (or CV_8UC4 BGRA with keep_alpha and an alpha channel),
  // orientation applied.
  cv::Mat pixels;
  ImageFormat format = ImageFormat::kUnknown;
  // The EXIF orientation that was applied.
  int orientation = 1;
};

// Checks the header against `limits`, then decodes. INVALID_ARGUMENT for data
// that is not a supported image, RESOURCE_EXHAUSTED over the pixel limit.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         const DecodeLimits& limits);

// Returns `stored` as a viewer sees it under EXIF `orientation` (1..8).
cv::Mat ApplyOrientation(const cv::Mat& stored, int orientation);

// Encodes BGR/BGRA pixels. `quality` 1..100 applies to JPEG and WebP. The
// output carries no EXIF, so no stale orientation tag. INVALID_ARGUMENT for
// formats that cannot be written (kUnknown, kBmp, kTiff are written too).
absl::StatusOr<std::string> EncodeImage(const cv::Mat& pixels, ImageFormat format,
                                        int quality);

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_IMAGE_DECODER_H_
