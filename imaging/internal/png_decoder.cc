// PNG through libpng. Errors longjmp back through png_jmpbuf; state that
// must survive the jump lives in a heap object set before setjmp.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {
namespace {

// Ancillary chunks may be compressed (zTXt, iTXt, iCCP): each is bounded, and
// the ones we have no use for are not even decompressed.
constexpr size_t kMaxChunkBytes = 4 << 20;
constexpr png_uint_32 kMaxAncillaryChunks = 128;
constexpr png_byte kIgnoredChunks[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf\0tIME\0hIST";
constexpr int kRowsPerDeadlineCheck = 64;

struct PngJob {
  absl::string_view bytes;
  size_t offset = 0;
  const DecodeControl* control = nullptr;
  absl::Status status;
  png_structp png = nullptr;
  png_infop info = nullptr;
  cv::Mat pixels;
};

PngJob* JobOf(png_structp png) { return static_cast<PngJob*>(png_get_error_ptr(png)); }

[[noreturn]] void OnError(png_structp png, png_const_charp message) {
  PngJob* job = JobOf(png);
  if (job->status.ok()) {
    job->status = absl::InvalidArgumentError(
        absl::StrCat("the png image could not be decoded: ", message));
  }
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}

void OnRead(png_structp png, png_bytep out, size_t length) {
  PngJob* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (length > job->bytes.size() - job->offset) png_error(png, "the data ends early");
  std::memcpy(out, job->bytes.data() + job->offset, length);
  job->offset += length;
}

// The steps that may longjmp. No object with a destructor is created here
// after setjmp.
absl::Status Run(PngJob* job, bool keep_alpha, Admit admit) {
  png_structp png = job->png;
  png_infop info = job->info;
  if (setjmp(png_jmpbuf(png)) != 0) return job->status;

  png_set_read_fn(png, job, OnRead);
  png_set_chunk_malloc_max(png, kMaxChunkBytes);
  png_set_chunk_cache_max(png, kMaxAncillaryChunks);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, 0);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, kIgnoredChunks,
                              static_cast<int>(sizeof(kIgnoredChunks) / 5));
  png_read_info(png, info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr,
               nullptr);
  const bool has_transparency = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  int channels = png_get_channels(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) channels = has_transparency ? 4 : 3;
  const bool has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_transparency;
  const bool output_alpha = keep_alpha && has_alpha;
  job->status = admit(SourceInfo{.width = width,
                                 .height = height,
                                 .channels = channels,
                                 .bytes_per_channel = bit_depth == 16 ? 2 : 1});
  if (!job->status.ok()) return job->status;

  png_set_expand(png);  // palette -> RGB, grey below 8 bits -> 8, tRNS -> alpha
  png_set_scale_16(png);
  png_set_gray_to_rgb(png);
  png_set_bgr(png);
  if (!output_alpha) png_set_strip_alpha(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int output_channels = output_alpha ? 4 : 3;
  if (png_get_rowbytes(png, info) != size_t{width} * output_channels) {
    job->status = absl::InvalidArgumentError(
        "the png image could not be decoded: its pixel layout is not supported");
    return job->status;
  }
  job->pixels.create(static_cast<int>(height), static_cast<int>(width),
                     CV_8UC(output_channels));
  // Row by row (each pass of an interlaced image goes over every row), so
  // that the deadline is checked as the work goes.
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < job->pixels.rows; ++y) {
      png_read_row(png, job->pixels.ptr(y), nullptr);
      if (y % kRowsPerDeadlineCheck == 0) {
        job->status = job->control->Check();
        if (!job->status.ok()) return job->status;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<cv::Mat> DecodePng(absl::string_view bytes, bool keep_alpha,
                                  const DecodeControl& control, Admit admit) {
  auto job = std::make_unique<PngJob>();
  job->bytes = bytes;
  job->control = &control;
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job.get(), OnError, OnWarning);
  if (job->png == nullptr)
    return absl::ResourceExhaustedError("out of memory decoding a png");
  job->info = png_create_info_struct(job->png);
  if (job->info == nullptr) {
    png_destroy_read_struct(&job->png, nullptr, nullptr);
    return absl::ResourceExhaustedError("out of memory decoding a png");
  }
  absl::Status status = Run(job.get(), keep_alpha, admit);
  png_destroy_read_struct(&job->png, &job->info, nullptr);
  if (!status.ok()) return status;
  return std::move(job->pixels);
}

}  // namespace stache::imaging::internal
