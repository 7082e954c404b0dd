// JPEG through the libjpeg API of libjpeg-turbo. Errors longjmp back to
// Run (libjpeg is C); everything that must survive the jump lives in a heap
// object reached through a pointer that is set before setjmp.
#include <algorithm>
#include <memory>
#include <string>

#include "imaging/internal/format_decoders.h"
#include "imaging/internal/jpeg_guard.h"

namespace stache::imaging::internal {
namespace {

struct JpegJob {
  JpegGuard guard;
  int min_long_side_px = 0;
  jpeg_decompress_struct cinfo;
  cv::Mat pixels;
  cv::Mat cmyk_row;
};

// Adobe's CMYK JPEGs store inverted ink values, as OpenCV assumes too.
void CmykRowToBgr(const uint8_t* cmyk, uint8_t* bgr, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, bgr += 3) {
    const int k = cmyk[3];
    bgr[0] = static_cast<uint8_t>(cmyk[2] * k / 255);
    bgr[1] = static_cast<uint8_t>(cmyk[1] * k / 255);
    bgr[2] = static_cast<uint8_t>(cmyk[0] * k / 255);
  }
}

// The steps that may longjmp. No object with a destructor is created here
// after setjmp: state that must survive a jump lives in `job`.
absl::Status Run(JpegJob* job, absl::string_view bytes, Admit admit) {
  j_decompress_ptr cinfo = &job->cinfo;
  if (setjmp(job->guard.jump) != 0) return job->guard.status;

  jpeg_create_decompress(cinfo);  // keeps err and client_data
  cinfo->progress = &job->guard.progress;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  const bool cmyk =
      cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGR;
  cinfo->dct_method = JDCT_ISLOW;

  SourceInfo info{.width = cinfo->image_width,
                  .height = cinfo->image_height,
                  .channels = cinfo->num_components,
                  .bytes_per_channel = 1};
  if (jpeg_has_multiple_scans(cinfo)) {
    // The whole image's DCT coefficients (16-bit each), MCU-padded, stay in
    // memory until the last scan.
    const int64_t padded_width = (info.width + 15) / 16 * 16;
    const int64_t padded_height = (info.height + 15) / 16 * 16;
    info.library_bytes = padded_width * padded_height * info.channels * 2;
  }
  job->guard.status = admit(info);
  if (!job->guard.status.ok()) return job->guard.status;
  // libjpeg's whole-image buffers may not exceed what was admitted: there is
  // no backing store, so a larger request is an error, not an allocation.
  cinfo->mem->max_memory_to_use = static_cast<long>(info.library_bytes + (8 << 20));
  // libjpeg scales in the inverse DCT: 1/2, 1/4 and 1/8 cost a fraction of
  // a full decode beyond the entropy decoding.
  const int64_t long_side = std::max(info.width, info.height);
  cinfo->scale_num = 1;
  cinfo->scale_denom = 1;
  for (const unsigned denominator : {8u, 4u, 2u}) {
    if (job->min_long_side_px > 0 &&
        (long_side + denominator - 1) / denominator >= job->min_long_side_px) {
      cinfo->scale_denom = denominator;
      break;
    }
  }

  jpeg_start_decompress(cinfo);
  job->pixels.create(static_cast<int>(cinfo->output_height),
                     static_cast<int>(cinfo->output_width), CV_8UC3);
  if (cmyk) job->cmyk_row.create(1, static_cast<int>(cinfo->output_width), CV_8UC4);
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* row = job->pixels.ptr(static_cast<int>(cinfo->output_scanline));
    JSAMPROW target = cmyk ? job->cmyk_row.ptr() : row;
    jpeg_read_scanlines(cinfo, &target, 1);
    if (cmyk) CmykRowToBgr(job->cmyk_row.ptr(), row, job->pixels.cols);
  }
  // Trailing data after the image is not needed; jpeg_finish_decompress
  // would read (and warn about) it.
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeJpeg(absl::string_view bytes, bool /*keep_alpha*/,
                                   const DecodeControl& control, Admit admit,
                                   int min_long_side_px, int* scale_denominator) {
  auto job = std::make_unique<JpegJob>();
  job->min_long_side_px = min_long_side_px;
  InstallJpegGuard(reinterpret_cast<j_common_ptr>(&job->cinfo), &job->guard, &control,
                   /*decompressing=*/true);

  absl::Status status = Run(job.get(), bytes, admit);
  *scale_denominator = static_cast<int>(std::max(1u, job->cinfo.scale_denom));
  jpeg_destroy_decompress(&job->cinfo);  // safe after a failed create: mem is null
  if (!status.ok()) return status;
  return std::move(job->pixels);
}

}  // namespace stache::imaging::internal
