// stache-detector: finds faces and the landmarks a mustache needs.
#include "absl/flags/flag.h"
#include "detector/detector_server.h"
#include "server/flags.h"
#include "server/log.h"

ABSL_FLAG(int, port, 50051, "gRPC port to listen on.");

int main(int argc, char** argv) {
  stache::server::SetLogService("detector");
  stache::server::ParseFlags(argc, argv, "stache-detector: finds faces and the landmarks a mustache needs.");
  stache::detector::DetectorServerConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port))};
  if (absl::Status status = stache::detector::RunDetectorServer(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
