// stache-gateway: the HTTP API and web page in front of the gRPC services.
#include "absl/flags/flag.h"
#include "gateway/gateway_server.h"
#include "server/flags.h"
#include "server/log.h"

ABSL_FLAG(int, port, 8000, "HTTP port to listen on.");
ABSL_FLAG(std::string, detector_address, "localhost:50051",
          "gRPC address (host:port or dns:///name:port) of the detector.");
ABSL_FLAG(std::string, overlay_address, "localhost:50052",
          "gRPC address of the overlay service.");
ABSL_FLAG(std::string, storage_address, "localhost:50053",
          "gRPC address of the storage service.");
ABSL_FLAG(int64_t, max_body_bytes, 20'000'000,
          "Largest upload accepted, in bytes; larger ones get 413.");

int main(int argc, char** argv) {
  stache::server::SetLogService("gateway");
  stache::server::ParseFlags(
      argc, argv,
      "stache-gateway: the HTTP API and web page in front of the gRPC services.");
  stache::gateway::GatewayConfig config{
      .host = absl::GetFlag(FLAGS_host),
      .port = absl::GetFlag(FLAGS_port),
      .grace_period = absl::GetFlag(FLAGS_grace_period),
      .detector_address = absl::GetFlag(FLAGS_detector_address),
      .overlay_address = absl::GetFlag(FLAGS_overlay_address),
      .storage_address = absl::GetFlag(FLAGS_storage_address),
      .max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes)};
  if (absl::Status status = stache::gateway::RunGatewayServer(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
