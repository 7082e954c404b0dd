// libFuzzer target: the image header guard (imaging::ReadImageHeader) and
// DecodeImage behind it (each format's own library: libjpeg-turbo, libpng,
// libwebp, libtiff, OpenCV's BMP decoder) with a small pixel limit, so that
// any input that passes the guard is decoded cheaply, with and without
// alpha. Neither may crash, hang or allocate beyond the limit, an accepted
// header must agree with the decoded size, and every decode's share of the
// memory budget is returned.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "imaging/image_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<stache::imaging::ImageHeader> header =
      stache::imaging::ReadImageHeader(bytes);
  if (header.ok() && (header->width <= 0 || header->height <= 0 ||
                      header->orientation < 1 || header->orientation > 8)) {
    std::abort();  // the guard accepted a header it should not have
  }
  constexpr int64_t kMaxPixels = 256 * 256;
  static stache::imaging::DecodeMemoryBudget budget(int64_t{1} << 30);
  for (bool keep_alpha : {false, true}) {
    absl::StatusOr<stache::imaging::DecodedImage> image = stache::imaging::DecodeImage(
        bytes, {.max_pixels = kMaxPixels, .budget = &budget, .keep_alpha = keep_alpha});
    if (image.ok()) {
      if (!header.ok() || image->pixels.empty()) std::abort();
      if (static_cast<int64_t>(image->pixels.total()) > kMaxPixels) std::abort();
      if (image->pixels.depth() != CV_8U) std::abort();
      const int channels = image->pixels.channels();
      if (channels != 3 && !(keep_alpha && channels == 4)) std::abort();
    }
  }
  if (budget.in_use() != 0) std::abort();  // a lease was not returned
  return 0;
}
