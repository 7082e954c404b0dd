// stache-overlay: draws mustaches on the faces the detector found.
#include "absl/flags/flag.h"
#include "overlay/overlay_server.h"
#include "server/flags.h"
#include "server/log.h"

ABSL_FLAG(int, port, 50052, "gRPC port to listen on.");

int main(int argc, char** argv) {
  stache::server::SetLogService("overlay");
  stache::server::ParseFlags(argc, argv, "stache-overlay: draws mustaches on the faces the detector found.");
  stache::overlay::OverlayServerConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port))};
  if (absl::Status status = stache::overlay::RunOverlayServer(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
