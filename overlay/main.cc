// stache-overlay: draws mustaches on the faces the detector found.
#include "absl/flags/flag.h"
#include "overlay/overlay_process.h"
#include "server/allocator.h"
#include "server/flags.h"
#include "server/log.h"

ABSL_FLAG(int, port, 50052, "gRPC port to listen on.");
ABSL_FLAG(int, admin_port, 9092,
          "HTTP port for Prometheus /metrics and /healthz; -1 turns it off.");
ABSL_FLAG(std::string, default_style, "handlebar",
          "Style drawn when a request names none: handlebar, chevron, walrus, pencil, "
          "english or "
          "random.");
ABSL_FLAG(int64_t, max_pixels, 40'000'000,
          "Largest image accepted, in pixels (width * height); larger ones get "
          "RESOURCE_EXHAUSTED before they are decoded.");
ABSL_FLAG(
    int64_t, max_decoded_bytes, 160'000'000,
    "Largest decoded image in bytes (width * height * channels * bytes per channel); "
    "larger ones get RESOURCE_EXHAUSTED before they are decoded.");
ABSL_FLAG(
    int64_t, decode_memory_bytes, int64_t{1} << 30,
    "Memory all decodes in flight may hold; a call over it waits up to 1 s, then gets "
    "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, default_quality, 90,
          "JPEG and WebP quality (1..100) when a request asks for 0.");
ABSL_FLAG(int, max_faces, 64,
          "Faces one Apply may name; more (or a face box outside the image) is "
          "INVALID_ARGUMENT.");

ABSL_FLAG(bool, edit_jpeg_coefficients, true,
          "Changes a JPEG kept as JPEG at quality 0 in its DCT coefficients: only the "
          "blocks under the mustaches are decoded and coded again, the rest keeps its "
          "bits. false decodes and re-encodes every photo.");

int main(int argc, char** argv) {
  stache::server::SetLogService("overlay");
  stache::server::ParseFlags(
      argc, argv, "stache-overlay: draws mustaches on the faces the detector found.");
  stache::server::KeepFreedMemoryForReuse();
  stache::overlay::OverlayProcessConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port),
                                                      absl::GetFlag(FLAGS_admin_port)),
      .overlay = {.default_style = absl::GetFlag(FLAGS_default_style),
                  .max_pixels = absl::GetFlag(FLAGS_max_pixels),
                  .max_decoded_bytes = absl::GetFlag(FLAGS_max_decoded_bytes),
                  .decode_memory_bytes = absl::GetFlag(FLAGS_decode_memory_bytes),
                  .default_quality = absl::GetFlag(FLAGS_default_quality),
                  .max_faces = absl::GetFlag(FLAGS_max_faces),
                  .edit_jpeg_coefficients = absl::GetFlag(FLAGS_edit_jpeg_coefficients)}};
  if (absl::Status status = stache::overlay::RunOverlayProcess(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
