// libjpeg's error, warning and progress handling, shared by the JPEG decoder
// and the coefficient editor so that both refuse the same files with the
// same messages. libjpeg is C: an error longjmps back to the setjmp of the
// function that called it, so each such function keeps everything that must
// survive the jump in a heap object (a JpegGuard among it) set up before
// setjmp, and creates no object with a destructor after it.
//
//   JpegGuard guard;  // inside a heap object
//   InstallJpegGuard(reinterpret_cast<j_common_ptr>(&cinfo), &guard, &control);
//   if (setjmp(guard.jump) != 0) return guard.status;
//   jpeg_create_decompress(&cinfo);
#ifndef STACHE_IMAGING_INTERNAL_JPEG_GUARD_H_
#define STACHE_IMAGING_INTERNAL_JPEG_GUARD_H_

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on

#include <csetjmp>

#include "absl/status/status.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {

struct JpegGuard {
  std::jmp_buf jump;
  jpeg_error_mgr error_manager;
  jpeg_progress_mgr progress;
  const DecodeControl* control = nullptr;
  // Why the jump happened.
  absl::Status status;
  // Whether `status` is an error libjpeg raised (rather than a limit of ours).
  bool library_error = false;
  int warnings = 0;
  int progress_calls = 0;
};

// Points `cinfo`'s error manager and progress monitor at `guard`, before
// jpeg_create_*: libjpeg errors become INVALID_ARGUMENT naming the problem,
// a file that is mostly warnings is refused, and the progress monitor
// applies `control` (deadline, cancellation; on a decompressor also the
// progressive scan limit). `cinfo->client_data` must stay `guard`.
void InstallJpegGuard(j_common_ptr cinfo, JpegGuard* guard, const DecodeControl* control,
                      bool decompressing);

// Jumps back to `guard->jump`. Callers set guard->status first, in a
// statement of its own, so that no temporary is alive (and leaked) across
// the jump.
[[noreturn]] void StopJpeg(JpegGuard* guard);

}  // namespace stache::imaging::internal

#endif  // STACHE_IMAGING_INTERNAL_JPEG_GUARD_H_
