#include "imaging/image_encoder.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stache::imaging {

absl::StatusOr<std::string> EncodeImage(const cv::Mat& pixels, ImageFormat format,
                                        int quality) {
  if (pixels.empty()) return absl::InvalidArgumentError("there is no image to encode");
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrFormat("quality %d is out of range: use 1..100", quality));
  }
  std::string extension;
  std::vector<int> params;
  cv::Mat image = pixels;
  switch (format) {
    case ImageFormat::kJpeg:
      extension = ".jpg";
      params = {cv::IMWRITE_JPEG_QUALITY, quality};
      if (image.channels() == 4) cv::cvtColor(image, image, cv::COLOR_BGRA2BGR);
      break;
    case ImageFormat::kPng:
      extension = ".png";
      params = {cv::IMWRITE_PNG_COMPRESSION, 3};
      break;
    case ImageFormat::kWebp:
      extension = ".webp";
      params = {cv::IMWRITE_WEBP_QUALITY, quality};
      break;
    case ImageFormat::kBmp:
      extension = ".bmp";
      break;
    case ImageFormat::kTiff:
      extension = ".tiff";
      break;
    case ImageFormat::kUnknown:
      return absl::InvalidArgumentError("cannot encode to an unknown image format");
  }
  std::vector<uchar> encoded;
  try {
    if (!cv::imencode(extension, image, encoded, params)) {
      return absl::InternalError(
          absl::StrCat("the ", ImageFormatName(format), " encoder failed"));
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("the ", ImageFormatName(format), " encoder failed: ", e.err));
  }
  return std::string(encoded.begin(), encoded.end());
}

}  // namespace stache::imaging
