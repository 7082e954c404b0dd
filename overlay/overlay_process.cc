#include "overlay/overlay_process.h"

#include "absl/strings/str_join.h"
#include "overlay/overlay_service.h"
#include "server/log.h"
#include "server/status_macros.h"

namespace stache::overlay {

absl::Status RunOverlayProcess(const OverlayProcessConfig& config) {
  server::BlockTerminationSignals();
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<MustacheOverlay> overlay,
                          MustacheOverlay::Create(config.overlay));
  server::MetricsRegistry metrics;
  server::Counter& applied = metrics.AddCounter(
      "stache_overlay_applied_total",
      "Apply calls that succeeded, by how the photo was changed: pixels (decoded and "
      "encoded whole) or jpeg_coefficients (only the DCT blocks under the mustaches).",
      {"path"});
  OverlayServiceImpl service(*overlay, &applied);
  std::vector<std::string> style_names;
  for (const StyleInfo& style : overlay->styles()) style_names.push_back(style.name);
  server::ServiceIdentity identity{
      .service_name = "overlay",
      .service_names = {"stache.overlay.v1.OverlayService"},
      .components = {{.name = "mustache_styles",
                      .kind = "styles",
                      .detail = absl::StrJoin(style_names, ",")}}};
  server::LogInfo("overlay ready",
                  {{"default_style", config.overlay.default_style},
                   {"max_pixels", config.overlay.max_pixels},
                   {"max_decoded_bytes", config.overlay.max_decoded_bytes},
                   {"decode_memory_bytes", config.overlay.decode_memory_bytes},
                   {"default_quality", config.overlay.default_quality},
                   {"max_faces", config.overlay.max_faces},
                   {"edit_jpeg_coefficients", config.overlay.edit_jpeg_coefficients}});
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<server::GrpcServer> grpc_server,
                          server::GrpcServer::Start(config.server, std::move(identity),
                                                    {&service}, &metrics));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::overlay
