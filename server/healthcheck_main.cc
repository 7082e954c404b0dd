// stache-healthcheck: exits 0 when a stache service is healthy, 1 otherwise.
// Used by container HEALTHCHECKs so images need no curl. Reads the TLS
// files from --tls_* or the service's own STACHE_TLS_* environment, so that
// it can check a TLS server from inside that server's container.
//
//   stache-healthcheck --grpc=127.0.0.1:50051
//   stache-healthcheck --http=127.0.0.1:8000 --path=/healthz
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "server/flag_environment.h"
#include "server/health_probe.h"
#include "server/tls_flags.h"

ABSL_FLAG(std::string, grpc, "",
          "host:port of a gRPC server to check with grpc.health.v1.");
ABSL_FLAG(std::string, service, "",
          "Service name for the gRPC check; empty = whole server.");
ABSL_FLAG(std::string, http, "", "host:port of an HTTP server to GET --path from.");
ABSL_FLAG(std::string, path, "/healthz", "Path for the HTTP check.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(3), "Deadline of the check.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "stache-healthcheck: exits 0 when the given stache service is healthy.\n"
      "  stache-healthcheck --grpc=127.0.0.1:50051\n"
      "  stache-healthcheck --http=127.0.0.1:8000 --path=/healthz\n"
      "TLS: --tls_ca (and --tls_cert, --tls_key for mutual TLS), or the "
      "STACHE_TLS_* environment the service itself reads.");
  // Only the TLS files: the service's other STACHE_* variables are not ours.
  stache::server::ApplyFlagEnvironment(stache::server::IsTlsFlag);
  absl::ParseCommandLine(argc, argv);
  absl::Status status;
  const std::string grpc_target = absl::GetFlag(FLAGS_grpc);
  const std::string http_target = absl::GetFlag(FLAGS_http);
  if (!grpc_target.empty() == !http_target.empty()) {
    std::fprintf(stderr, "give exactly one of --grpc or --http\n");
    return 2;
  }
  if (!grpc_target.empty()) {
    absl::StatusOr<stache::server::TlsMaterial> tls =
        stache::server::ClientTlsFromFlags();
    if (!tls.ok()) {
      std::fprintf(stderr, "%s\n", std::string(tls.status().message()).c_str());
      return 2;
    }
    status = stache::server::CheckGrpcHealth(grpc_target, absl::GetFlag(FLAGS_service),
                                             absl::GetFlag(FLAGS_timeout), *tls);
  } else {
    std::pair<std::string, std::string> host_port =
        absl::StrSplit(http_target, absl::MaxSplits(':', 1));
    int port = 0;
    if (!absl::SimpleAtoi(host_port.second, &port)) {
      std::fprintf(stderr, "--http wants host:port, got '%s'\n", http_target.c_str());
      return 2;
    }
    status = stache::server::CheckHttpHealth(
        host_port.first, port, absl::GetFlag(FLAGS_path), absl::GetFlag(FLAGS_timeout));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "unhealthy: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
