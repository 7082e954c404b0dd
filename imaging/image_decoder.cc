#include "imaging/image_decoder.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "imaging/internal/admission.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging {
namespace {

absl::StatusOr<cv::Mat> DecodeAs(ImageFormat format, absl::string_view bytes,
                                 const DecodeLimits& limits,
                                 const internal::DecodeControl& control,
                                 internal::Admit admit, int* scale_denominator) {
  const bool keep_alpha = limits.keep_alpha;
  switch (format) {
    case ImageFormat::kJpeg:
      return internal::DecodeJpeg(bytes, keep_alpha, control, admit,
                                  limits.min_long_side_px, scale_denominator);
    case ImageFormat::kPng:
      return internal::DecodePng(bytes, keep_alpha, control, admit);
    case ImageFormat::kWebp:
      return internal::DecodeWebp(bytes, keep_alpha, control, admit);
    case ImageFormat::kBmp:
      return internal::DecodeBmp(bytes, keep_alpha, control, admit);
    case ImageFormat::kTiff:
      return internal::DecodeTiff(bytes, keep_alpha, control, admit);
    case ImageFormat::kUnknown:
      break;
  }
  return absl::InvalidArgumentError("the data is not an image in a supported format");
}

absl::Status OverPixelLimit(int64_t width, int64_t height, int64_t limit) {
  return absl::ResourceExhaustedError(absl::StrFormat(
      "the image is %d x %d pixels (%d in all), more than the limit of %d pixels", width,
      height, width * height, limit));
}

}  // namespace

namespace internal {

absl::Status CheckHeaderSize(const ImageHeader& header, const DecodeLimits& limits) {
  if (header.width * header.height > limits.max_pixels) {
    return OverPixelLimit(header.width, header.height, limits.max_pixels);
  }
  return absl::OkStatus();
}

absl::Status AdmitImage(const ImageHeader& header, const SourceInfo& info,
                        const DecodeLimits& limits, int64_t peak_bytes,
                        absl::Time deadline, DecodeMemoryBudget::Lease* lease) {
  if (info.width != header.width || info.height != header.height) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the %s image is inconsistent: its header says %d x %d pixels in one place and "
        "%d x %d in another",
        ImageFormatName(header.format), header.width, header.height, info.width,
        info.height));
  }
  if (info.width * info.height > limits.max_pixels) {
    return OverPixelLimit(info.width, info.height, limits.max_pixels);
  }
  const int64_t decoded_bytes =
      info.width * info.height * info.channels * info.bytes_per_channel;
  if (decoded_bytes > limits.max_decoded_bytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the image is %d x %d pixels with %d channels of %d bits: %d MB decoded, more "
        "than "
        "the limit of %d MB",
        info.width, info.height, info.channels, info.bytes_per_channel * 8,
        decoded_bytes / 1'000'000, limits.max_decoded_bytes / 1'000'000));
  }
  if (limits.budget == nullptr) return absl::OkStatus();
  absl::StatusOr<DecodeMemoryBudget::Lease> acquired = limits.budget->Acquire(
      peak_bytes, std::min(deadline, absl::Now() + limits.budget_wait));
  if (!acquired.ok()) return acquired.status();
  *lease = *std::move(acquired);
  return absl::OkStatus();
}

DecodeControl MakeDecodeControl(const DecodeLimits& limits) {
  return DecodeControl{
      .deadline = std::min(limits.deadline, absl::Now() + limits.max_decode_time),
      .cancelled = limits.cancelled,
      .max_jpeg_scans = limits.max_jpeg_scans,
      .max_image_bytes = limits.max_decoded_bytes};
}

absl::Status DecodeControl::Check() const {
  if (cancelled && cancelled()) return absl::CancelledError("the call was cancelled");
  if (absl::Now() > deadline) {
    return absl::DeadlineExceededError("decoding the image took longer than allowed");
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         const DecodeLimits& limits) {
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  if (!header.ok()) return header.status();
  return DecodeImage(bytes, *header, limits);
}

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         const ImageHeader& header,
                                         const DecodeLimits& limits) {
  if (absl::Status status = internal::CheckHeaderSize(header, limits); !status.ok()) {
    return status;
  }
  const internal::DecodeControl control = internal::MakeDecodeControl(limits);
  if (absl::Status status = control.Check(); !status.ok()) return status;

  internal::SourceInfo source;
  DecodeMemoryBudget::Lease memory;
  auto admit = [&](const internal::SourceInfo& info) -> absl::Status {
    source = info;
    // The peak: the library's own buffers, our 8-bit pixels, and the copy
    // that orientation makes.
    const int64_t output_bytes = info.width * info.height * (limits.keep_alpha ? 4 : 3);
    return internal::AdmitImage(header, info, limits,
                                info.library_bytes + 2 * output_bytes, control.deadline,
                                &memory);
  };
  absl::StatusOr<cv::Mat> decoded;
  int scale_denominator = 1;
  try {
    decoded = DecodeAs(header.format, bytes, limits, control, admit, &scale_denominator);
  } catch (const cv::Exception&) {
    decoded = absl::InternalError(absl::StrCat("the ", ImageFormatName(header.format),
                                               " image could not be converted"));
  } catch (const std::bad_alloc&) {
    decoded =
        absl::ResourceExhaustedError("there is not enough memory to decode the image");
  }
  if (!decoded.ok()) return decoded.status();
  // A scaled JPEG decode rounds up, as libjpeg does.
  auto scaled = [&](int64_t size) {
    return (size + scale_denominator - 1) / scale_denominator;
  };
  if (decoded->cols != scaled(source.width) || decoded->rows != scaled(source.height)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the %s image is inconsistent: its header says %d x %d pixels "
                        "but it decodes to %d x %d",
                        ImageFormatName(header.format), source.width, source.height,
                        decoded->cols, decoded->rows));
  }
  const int orientation =
      source.orientation != 0 ? source.orientation : header.orientation;
  // Orientations 5-8 swap width and height.
  const cv::Size stored(static_cast<int>(source.width), static_cast<int>(source.height));
  return DecodedImage{
      .pixels = ApplyOrientation(*decoded, orientation),
      .format = header.format,
      .orientation = orientation,
      .scale_denominator = scale_denominator,
      .full_size = orientation >= 5 ? cv::Size(stored.height, stored.width) : stored,
      .memory = std::move(memory)};
}

cv::Mat ApplyOrientation(const cv::Mat& stored, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(stored, out, 1);
      return out;
    case 3:
      cv::flip(stored, out, -1);
      return out;
    case 4:
      cv::flip(stored, out, 0);
      return out;
    case 5:
      cv::transpose(stored, out);
      return out;
    case 6:  // stored rotated 90 degrees counter-clockwise: turn it clockwise
      cv::rotate(stored, out, cv::ROTATE_90_CLOCKWISE);
      return out;
    case 7:
      cv::transpose(stored, out);
      cv::flip(out, out, -1);
      return out;
    case 8:
      cv::rotate(stored, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      return out;
    default:
      return stored;
  }
}

}  // namespace stache::imaging
