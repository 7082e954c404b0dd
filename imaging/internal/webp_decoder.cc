// WebP through libwebp: WebPGetFeatures reads the header, the incremental
// decoder writes straight into our buffer (so the deadline is checked as the
// data goes in), and an animation gives its first frame, composed on its
// canvas by libwebpdemux.
#include <webp/decode.h>
#include <webp/demux.h>

#include <algorithm>
#include <memory>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {
namespace {

constexpr size_t kBytesPerDeadlineCheck = 64 << 10;

absl::Status Corrupt(const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("the webp image could not be decoded: ", what));
}

absl::StatusOr<cv::Mat> DecodeStill(absl::string_view bytes,
                                    const WebPBitstreamFeatures& features,
                                    bool output_alpha, const DecodeControl& control) {
  cv::Mat pixels(features.height, features.width, output_alpha ? CV_8UC4 : CV_8UC3);
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config))
    return absl::InternalError("libwebp version mismatch");
  config.output.colorspace = output_alpha ? MODE_BGRA : MODE_BGR;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = pixels.data;
  config.output.u.RGBA.stride = static_cast<int>(pixels.step);
  config.output.u.RGBA.size = pixels.step * pixels.rows;
  std::unique_ptr<WebPIDecoder, decltype(&WebPIDelete)> decoder(
      WebPIDecode(nullptr, 0, &config), &WebPIDelete);
  if (decoder == nullptr)
    return absl::ResourceExhaustedError("out of memory decoding a webp");
  VP8StatusCode code = VP8_STATUS_SUSPENDED;
  for (size_t offset = 0; offset < bytes.size() && code == VP8_STATUS_SUSPENDED;) {
    absl::Status status = control.Check();
    if (!status.ok()) return status;
    const size_t length = std::min(kBytesPerDeadlineCheck, bytes.size() - offset);
    code = WebPIAppend(decoder.get(),
                       reinterpret_cast<const uint8_t*>(bytes.data() + offset), length);
    offset += length;
  }
  if (code == VP8_STATUS_SUSPENDED) return Corrupt("the data ends early");
  if (code != VP8_STATUS_OK) return Corrupt("the data is corrupt");
  return pixels;
}

// The first frame of an animation, as a viewer sees it on the canvas.
absl::StatusOr<cv::Mat> DecodeFirstFrame(absl::string_view bytes, bool output_alpha) {
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options))
    return absl::InternalError("libwebp version mismatch");
  options.color_mode = MODE_BGRA;
  options.use_threads = 0;
  const WebPData data{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> decoder(
      WebPAnimDecoderNew(&data, &options), &WebPAnimDecoderDelete);
  if (decoder == nullptr) return Corrupt("the animation is corrupt");
  WebPAnimInfo info;
  uint8_t* canvas = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetInfo(decoder.get(), &info) ||
      !WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp)) {
    return Corrupt("the first frame of the animation is corrupt");
  }
  const cv::Mat frame(static_cast<int>(info.canvas_height),
                      static_cast<int>(info.canvas_width), CV_8UC4, canvas);
  cv::Mat pixels;
  if (output_alpha) {
    pixels = frame.clone();
  } else {
    cv::cvtColor(frame, pixels, cv::COLOR_BGRA2BGR);
  }
  return pixels;
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeWebp(absl::string_view bytes, bool keep_alpha,
                                   const DecodeControl& control, Admit admit) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                      &features) != VP8_STATUS_OK) {
    return Corrupt("its header is corrupt or of an unsupported kind");
  }
  const bool output_alpha = keep_alpha && features.has_alpha;
  SourceInfo info{.width = features.width,
                  .height = features.height,
                  .channels = features.has_alpha ? 4 : 3,
                  .bytes_per_channel = 1};
  // Lossy frames are decoded through YUV planes (1.5 bytes a pixel);
  // an animation keeps its whole BGRA canvas, and the previous one.
  info.library_bytes = info.width * info.height * (features.has_animation ? 8 : 2);
  absl::Status admitted = admit(info);
  if (!admitted.ok()) return admitted;
  if (features.has_animation) {
    absl::Status status = control.Check();
    if (!status.ok()) return status;
    return DecodeFirstFrame(bytes, output_alpha);
  }
  return DecodeStill(bytes, features, output_alpha, control);
}

}  // namespace stache::imaging::internal
