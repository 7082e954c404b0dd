// Safe image decoding shared by the detector and the overlay, so that both
// see the same pixels in the same orientation. Client bytes are attack
// surface, so:
//  - the format is sniffed from the magic bytes and the bytes reach only
//    that format's own library (libjpeg-turbo, libpng, libwebp, libtiff;
//    OpenCV's BMP decoder for BMP): never a decoder OpenCV would pick by
//    itself (GDAL, GDCM, ...), never a temporary file;
//  - the library reads the header first; the size it reports is checked in
//    pixels and in decoded bytes (width x height x channels x bytes per
//    channel) before any pixel buffer is allocated, and the decode's memory
//    is reserved from a per-process budget;
//  - JPEG scans, decode time, the caller's deadline and cancellation bound
//    the CPU one image can take;
//  - multi-page TIFFs and animated WebPs give their first page or frame;
//  - EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF, TIFF's tag) is
//    applied, so coordinates refer to the image as a viewer sees it.
//
//   STACHE_ASSIGN_OR_RETURN(DecodedImage image,
//                           DecodeImage(bytes, {.max_pixels = 40'000'000}));
//   cv::Mat bgr = image.pixels;  // CV_8UC3, orientation applied
#ifndef STACHE_IMAGING_IMAGE_DECODER_H_
#define STACHE_IMAGING_IMAGE_DECODER_H_

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "imaging/decode_budget.h"
#include "imaging/image_format.h"

namespace stache::imaging {

struct DecodeLimits {
  // Largest width*height accepted (stored size).
  int64_t max_pixels = 40'000'000;
  // Largest decoded size in bytes, counted as stored: width x height x
  // channels x bytes per channel. The default admits an 8-bit RGBA image at
  // the pixel limit, not a 16-bit or float one.
  int64_t max_decoded_bytes = 160'000'000;
  // Shared by all decodes in the process (null: none). The decode's
  // estimated peak is reserved before decoding and held by the result.
  DecodeMemoryBudget* budget = nullptr;
  // How long to wait for room in `budget` before RESOURCE_EXHAUSTED.
  absl::Duration budget_wait = absl::Seconds(1);
  // CPU bounds for one image, whatever the caller's deadline.
  absl::Duration max_decode_time = absl::Seconds(5);
  int max_jpeg_scans = 100;
  // Keep an alpha channel when the image has one (CV_8UC4 then).
  bool keep_alpha = false;
  // JPEG only: decode at the smallest of libjpeg's scales (1/2, 1/4, 1/8)
  // whose long side is still at least this many pixels, which skips most of
  // the inverse DCT and colour conversion (a 12 MP photo decodes at 1/4 in
  // about a third of the time). 0: full size. DecodedImage::scale_denominator
  // says which scale was used.
  int min_long_side_px = 0;
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
  // `pixels` is the image at 1/scale_denominator of its size in each
  // direction (rounded up); see DecodeLimits::min_long_side_px.
  int scale_denominator = 1;
  // The image's full size as a viewer sees it (orientation applied).
  cv::Size full_size;
  // The decode's share of the process budget, returned when this is
  // destroyed.
  DecodeMemoryBudget::Lease memory;
};

// Checks the header against `limits`, then decodes. INVALID_ARGUMENT for data
// that is not a supported image, RESOURCE_EXHAUSTED over the pixel or byte
// limits or the budget, DEADLINE_EXCEEDED past the deadline or the decode
// time, CANCELLED when `limits.cancelled` says so.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         const DecodeLimits& limits);

// The same, for a caller that has read `header` from `bytes` already with
// ReadImageHeader (to choose a path, say), so that the bytes are not parsed
// twice. `header` picks the decoder, gives the EXIF orientation and is the
// first size check; the size the format's library reads must still agree
// with it, so a header of other bytes fails as an inconsistent image.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         const ImageHeader& header,
                                         const DecodeLimits& limits);

// Returns `stored` as a viewer sees it under EXIF `orientation` (1..8).
cv::Mat ApplyOrientation(const cv::Mat& stored, int orientation);

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_IMAGE_DECODER_H_
