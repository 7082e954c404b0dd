// Encoding pixels into an image file: what the overlay writes (and tests
// make their inputs with). OpenCV's encoders; no client bytes reach them.
//
//   STACHE_ASSIGN_OR_RETURN(std::string png, EncodeImage(pixels, ImageFormat::kPng, 90));
#ifndef STACHE_IMAGING_IMAGE_ENCODER_H_
#define STACHE_IMAGING_IMAGE_ENCODER_H_

#include <opencv2/core.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "imaging/image_format.h"

namespace stache::imaging {

// Encodes BGR/BGRA pixels. `quality` 1..100 applies to JPEG and WebP. The
// output carries no EXIF, so no stale orientation tag. INVALID_ARGUMENT for
// formats that cannot be written (kUnknown, kBmp, kTiff are written too).
absl::StatusOr<std::string> EncodeImage(const cv::Mat& pixels, ImageFormat format,
                                        int quality);

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_IMAGE_ENCODER_H_
