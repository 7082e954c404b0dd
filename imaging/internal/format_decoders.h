// One decoder per accepted format, each calling that format's own library
// (libjpeg-turbo, libpng, libwebp, libtiff; OpenCV's BMP decoder, which is
// the only one OpenCV chooses for "BM" data). Client bytes reach no other
// decoder: never one OpenCV picks by signature (GDAL, GDCM, ...), never a
// temporary file.
//
// Each decoder reads the header with its library, describes the pixels it
// will produce in a SourceInfo, and asks `admit` before allocating them; the
// caller checks its limits and reserves memory there.
#ifndef STACHE_IMAGING_INTERNAL_FORMAT_DECODERS_H_
#define STACHE_IMAGING_INTERNAL_FORMAT_DECODERS_H_

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::imaging::internal {

// What a format's library says about the image it is about to decode.
struct SourceInfo {
  int64_t width = 0;  // stored size, before orientation
  int64_t height = 0;
  int channels = 0;           // as stored: 1 grey .. 4 RGBA/CMYK
  int bytes_per_channel = 1;  // 2 for 16-bit, 4 for 32-bit/float samples
  // Bytes the library itself holds for the whole image while decoding
  // (progressive JPEG coefficients, a TIFF strip), beyond the output.
  int64_t library_bytes = 0;
  // TIFF's own orientation tag (1..8); 0 when the format keeps it in EXIF.
  int orientation = 0;
};

// Stops work that has run too long or is no longer wanted.
struct DecodeControl {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
  int max_jpeg_scans = 100;
  // The largest decoded image, in bytes; also bounds single allocations of
  // the libraries that allow it.
  int64_t max_image_bytes = int64_t{1} << 30;

  // OK, DEADLINE_EXCEEDED or CANCELLED.
  absl::Status Check() const;
};

using Admit = absl::FunctionRef<absl::Status(const SourceInfo&)>;

// Each returns CV_8UC3 BGR, or CV_8UC4 BGRA when `keep_alpha` and the image
// has alpha, in stored orientation. INVALID_ARGUMENT for data the library
// refuses, with a message a person understands; whatever `admit` or
// `control` return otherwise.
// `min_long_side_px` > 0 lets the JPEG decode at 1/2, 1/4 or 1/8 of its size
// (the smallest with at least that long side); the scale used goes to
// `scale_denominator`.
absl::StatusOr<cv::Mat> DecodeJpeg(absl::string_view bytes, bool keep_alpha,
                                   const DecodeControl& control, Admit admit,
                                   int min_long_side_px, int* scale_denominator);
absl::StatusOr<cv::Mat> DecodePng(absl::string_view bytes, bool keep_alpha,
                                  const DecodeControl& control, Admit admit);
absl::StatusOr<cv::Mat> DecodeWebp(absl::string_view bytes, bool keep_alpha,
                                   const DecodeControl& control, Admit admit);
absl::StatusOr<cv::Mat> DecodeTiff(absl::string_view bytes, bool keep_alpha,
                                   const DecodeControl& control, Admit admit);
absl::StatusOr<cv::Mat> DecodeBmp(absl::string_view bytes, bool keep_alpha,
                                  const DecodeControl& control, Admit admit);

}  // namespace stache::imaging::internal

#endif  // STACHE_IMAGING_INTERNAL_FORMAT_DECODERS_H_
