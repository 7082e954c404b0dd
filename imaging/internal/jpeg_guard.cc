#include "imaging/internal/jpeg_guard.h"

#include "absl/strings/str_cat.h"

namespace stache::imaging::internal {
namespace {

// A file that is mostly warnings (corrupt data libjpeg skips over) is
// refused rather than decoded to grey noise for seconds.
constexpr int kMaxWarnings = 100;
// Check the deadline every this many progress callbacks (each is at most
// one iMCU row or one marker).
constexpr int kProgressChecksPerDeadlineCheck = 16;

JpegGuard* GuardOf(j_common_ptr cinfo) {
  return static_cast<JpegGuard*>(cinfo->client_data);
}

[[noreturn]] void OnError(j_common_ptr cinfo) {
  char message[JMSG_LENGTH_MAX] = {};
  (*cinfo->err->format_message)(cinfo, message);
  JpegGuard* guard = GuardOf(cinfo);
  guard->status = absl::InvalidArgumentError(
      absl::StrCat("the jpeg image could not be ",
                   cinfo->is_decompressor ? "decoded" : "encoded", ": ", message));
  guard->library_error = true;
  StopJpeg(guard);
}

void OnMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  JpegGuard* guard = GuardOf(cinfo);
  if (++guard->warnings > kMaxWarnings) {
    guard->status = absl::InvalidArgumentError(
        "the jpeg image is corrupt: its data is mostly damaged");
    StopJpeg(guard);
  }
}

void CheckDeadline(JpegGuard* guard) {
  if (++guard->progress_calls % kProgressChecksPerDeadlineCheck == 0) {
    guard->status = guard->control->Check();
    if (!guard->status.ok()) StopJpeg(guard);
  }
}

void OnDecompressProgress(j_common_ptr cinfo) {
  JpegGuard* guard = GuardOf(cinfo);
  // Each scan of a progressive JPEG is another pass over the whole image:
  // thousands of tiny scans cost seconds of CPU for a few hundred KB.
  const int scan = reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number;
  if (scan > guard->control->max_jpeg_scans) {
    guard->status = absl::InvalidArgumentError(
        absl::StrCat("the jpeg image has more than ", guard->control->max_jpeg_scans,
                     " progressive scans; photos have about ten"));
    StopJpeg(guard);
  }
  CheckDeadline(guard);
}

void OnCompressProgress(j_common_ptr cinfo) { CheckDeadline(GuardOf(cinfo)); }

}  // namespace

void InstallJpegGuard(j_common_ptr cinfo, JpegGuard* guard, const DecodeControl* control,
                      bool decompressing) {
  guard->control = control;
  cinfo->err = jpeg_std_error(&guard->error_manager);
  guard->error_manager.error_exit = OnError;
  guard->error_manager.emit_message = OnMessage;
  guard->progress.progress_monitor =
      decompressing ? OnDecompressProgress : OnCompressProgress;
  cinfo->client_data = guard;
}

void StopJpeg(JpegGuard* guard) { std::longjmp(guard->jump, 1); }

}  // namespace stache::imaging::internal
