// TIFF through libtiff, reading from memory (never a file) with every single
// allocation bounded. Only the first directory (page) is decoded. The
// width and height checked are the ones libtiff reads from the directory it
// decodes, not a parse of our own.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {
namespace {

constexpr uint32_t kMinRowsPerBand = 64;

struct MemoryFile {
  absl::string_view bytes;
  uint64_t offset = 0;
  std::string error;  // libtiff's first error message
};

tmsize_t Read(thandle_t handle, void* out, tmsize_t length) {
  auto* file = static_cast<MemoryFile*>(handle);
  if (length < 0 || file->offset >= file->bytes.size()) return 0;
  const size_t count = std::min<uint64_t>(static_cast<uint64_t>(length),
                                          file->bytes.size() - file->offset);
  std::memcpy(out, file->bytes.data() + file->offset, count);
  file->offset += count;
  return static_cast<tmsize_t>(count);
}

tmsize_t Write(thandle_t, void*, tmsize_t) { return -1; }

toff_t Seek(thandle_t handle, toff_t offset, int whence) {
  auto* file = static_cast<MemoryFile*>(handle);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = file->offset;
  if (whence == SEEK_END) base = file->bytes.size();
  if (offset > UINT64_MAX - base) return static_cast<toff_t>(-1);
  file->offset = base + offset;  // past the end reads as empty
  return file->offset;
}

int Close(thandle_t) { return 0; }
toff_t Size(thandle_t handle) { return static_cast<MemoryFile*>(handle)->bytes.size(); }
int Map(thandle_t, void**, toff_t*) { return 0; }
void Unmap(thandle_t, void*, toff_t) {}

int OnError(TIFF*, void* user_data, const char*, const char* format, va_list args) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->error.empty()) {
    char message[512];
    std::vsnprintf(message, sizeof(message), format, args);
    file->error = message;
  }
  return 1;  // handled: nothing goes to stderr
}

int OnWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

absl::Status Corrupt(const MemoryFile& file, const char* fallback) {
  return absl::InvalidArgumentError(
      absl::StrCat("the tiff image could not be decoded: ",
                   file.error.empty() ? fallback : file.error));
}

struct TiffCloser {
  void operator()(TIFF* tiff) const { TIFFClose(tiff); }
};
struct OptionsDeleter {
  void operator()(TIFFOpenOptions* options) const { TIFFOpenOptionsFree(options); }
};
struct RgbaImageEnder {
  void operator()(TIFFRGBAImage* image) const { TIFFRGBAImageEnd(image); }
};

}  // namespace

absl::StatusOr<cv::Mat> DecodeTiff(absl::string_view bytes, bool keep_alpha,
                                   const DecodeControl& control, Admit admit) {
  MemoryFile file{.bytes = bytes};
  std::unique_ptr<TIFFOpenOptions, OptionsDeleter> options(TIFFOpenOptionsAlloc());
  // No single allocation (a tag array, a strip buffer) may exceed what a
  // whole decoded image may take.
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(),
                                      static_cast<tmsize_t>(control.max_image_bytes));
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), OnError, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), OnWarning, &file);
  // "m": no memory mapping. Opening reads the first directory only.
  std::unique_ptr<TIFF, TiffCloser> tiff(TIFFClientOpenExt(
      "upload", "rm", &file, Read, Write, Seek, Close, Size, Map, Unmap, options.get()));
  if (tiff == nullptr) return Corrupt(file, "its first directory is corrupt");

  uint32_t width = 0, height = 0;
  uint16_t samples = 1, bits = 1, orientation = ORIENTATION_TOPLEFT;
  if (!TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width) ||
      !TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height) || width == 0 ||
      height == 0) {
    return absl::InvalidArgumentError("the tiff image has no size");
  }
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_ORIENTATION, &orientation);
  SourceInfo info{.width = width,
                  .height = height,
                  .channels = samples,
                  .bytes_per_channel = std::max(1, (bits + 7) / 8),
                  .orientation = orientation >= 1 && orientation <= 8 ? orientation : 1};
  // libtiff holds one strip or tile as stored, and we decode into 32-bit
  // RGBA before converting to BGR.
  const int64_t block =
      TIFFIsTiled(tiff.get()) ? TIFFTileSize64(tiff.get()) : TIFFStripSize64(tiff.get());
  info.library_bytes = block + info.width * info.height * 4;
  absl::Status admitted = admit(info);
  if (!admitted.ok()) return admitted;

  char message[1024] = {};
  if (!TIFFRGBAImageOK(tiff.get(), message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tiff image uses a layout that is not supported: ", message));
  }
  TIFFRGBAImage image_storage;
  if (!TIFFRGBAImageBegin(&image_storage, tiff.get(), /*stop=*/1, message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tiff image could not be decoded: ", message));
  }
  std::unique_ptr<TIFFRGBAImage, RgbaImageEnder> image(&image_storage);
  // Rows as stored: orientation is applied by the caller, the same way for
  // every format.
  image->req_orientation = image->orientation;

  // Decoded band by band (a band is whole strips or tiles, so nothing is
  // decoded twice) so that the deadline is checked as the work goes.
  uint32_t band = kMinRowsPerBand;
  if (TIFFIsTiled(tiff.get())) {
    TIFFGetField(tiff.get(), TIFFTAG_TILELENGTH, &band);
  } else {
    TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_ROWSPERSTRIP, &band);
  }
  band = std::clamp(band, 1u, height);
  if (band < kMinRowsPerBand)
    band = std::min(height, (kMinRowsPerBand + band - 1) / band * band);
  cv::Mat rgba(static_cast<int>(height), static_cast<int>(width), CV_8UC4);
  for (uint32_t row = 0; row < height; row += band) {
    absl::Status status = control.Check();
    if (!status.ok()) return status;
    image->row_offset = static_cast<int>(row);
    image->col_offset = 0;
    const uint32_t rows = std::min(band, height - row);
    if (!TIFFRGBAImageGet(image.get(),
                          reinterpret_cast<uint32_t*>(rgba.ptr(static_cast<int>(row))),
                          width, rows)) {
      return Corrupt(file, "its pixel data is corrupt");
    }
  }
  // libtiff packs each pixel as R, G, B, A bytes in memory.
  cv::Mat pixels;
  const bool output_alpha = keep_alpha && (samples == 2 || samples == 4);
  cv::cvtColor(rgba, pixels, output_alpha ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGBA2BGR);
  return pixels;
}

}  // namespace stache::imaging::internal
