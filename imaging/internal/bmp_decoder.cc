// BMP through OpenCV's own BMP decoder. OpenCV picks a decoder by signature
// and BmpDecoder is the first one registered, claiming any data that starts
// with "BM"; when it refuses the data, cv::imdecode fails rather than trying
// another decoder (tested: a "BM" file carrying GDAL's and GDCM's signatures
// is refused). The header is checked here first so that only layouts
// BmpDecoder handles reach it.
#include <mutex>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "imaging/internal/byte_reader.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {
namespace {

absl::Status Unsupported(const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("the bmp image is not supported: ", what));
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeBmp(absl::string_view bytes, bool keep_alpha,
                                  const DecodeControl& control, Admit admit) {
  const ByteReader reader(bytes, /*little_endian=*/true);
  const absl::Status truncated =
      absl::InvalidArgumentError("the bmp image is truncated: its header ends early");
  uint32_t dib_size = 0, planes = 0, bits = 0, compression = 0, width_field = 0,
           height_field = 0;
  int64_t width = 0, height = 0;
  if (!reader.Matches(0, "BM") || !reader.U32(14, &dib_size)) return truncated;
  if (dib_size == 12) {  // OS/2 BITMAPCOREHEADER
    if (!reader.U16(18, &width_field) || !reader.U16(20, &height_field) ||
        !reader.U16(22, &planes) || !reader.U16(24, &bits)) {
      return truncated;
    }
    width = width_field;
    height = height_field;
  } else if (dib_size == 40 || dib_size == 52 || dib_size == 56 || dib_size == 108 ||
             dib_size == 124) {
    if (!reader.U32(18, &width_field) || !reader.U32(22, &height_field) ||
        !reader.U16(26, &planes) || !reader.U16(28, &bits) ||
        !reader.U32(30, &compression)) {
      return truncated;
    }
    width = static_cast<int32_t>(width_field);
    height = static_cast<int32_t>(height_field);
  } else {
    return Unsupported("its header is of an unknown kind");
  }
  if (planes != 1) return Unsupported("it has more than one plane");
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
    return Unsupported("its bit depth is not 1, 4, 8, 16, 24 or 32");
  }
  // 0 uncompressed, 1 RLE8, 2 RLE4, 3 bit fields: what BmpDecoder reads.
  if (compression > 3) return Unsupported("it is compressed in a way we do not read");
  if (width <= 0 || height == 0) return Unsupported("its size is empty");
  // A negative height means rows are stored top-down.
  const int64_t rows = height < 0 ? -height : height;
  const int channels = bits == 32 ? 4 : 3;
  absl::Status admitted = admit(SourceInfo{
      .width = width, .height = rows, .channels = channels, .bytes_per_channel = 1});
  if (!admitted.ok()) return admitted;
  absl::Status status = control.Check();
  if (!status.ok()) return status;

  // imdecode logs each refusal as an OpenCV warning on stderr; the Status
  // carries it instead, and the services' logs stay JSON lines.
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  });
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U,
                         const_cast<char*>(bytes.data()));
    decoded =
        cv::imdecode(buffer, (keep_alpha ? cv::IMREAD_UNCHANGED : cv::IMREAD_COLOR) |
                                 cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception&) {
    decoded.release();
  }
  if (decoded.empty()) {
    return absl::InvalidArgumentError(
        "the bmp image could not be decoded: the data is corrupt or truncated");
  }
  if (decoded.depth() != CV_8U) return Unsupported("its pixel layout is not supported");
  if (decoded.channels() == 1) cv::cvtColor(decoded, decoded, cv::COLOR_GRAY2BGR);
  return decoded;
}

}  // namespace stache::imaging::internal
