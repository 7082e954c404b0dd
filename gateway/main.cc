// stache-gateway: the HTTP API and web page in front of the gRPC services.
#include <malloc.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gateway/gateway_process.h"
#include "server/allocator.h"
#include "server/flags.h"
#include "server/log.h"
#include "server/tls_flags.h"

ABSL_FLAG(int, port, 8000, "HTTP port to listen on.");
ABSL_FLAG(
    int, admin_port, 9090,
    "Port of the operators' HTTP server (on --host): /metrics and /v1/info with every "
    "backend's address. -1 turns it off.");
ABSL_FLAG(
    std::string, session_key_file, "",
    "File of session cookie signing keys, one a line, each at least 32 bytes: the "
    "first signs, all verify (rotate by adding a new first line; remove the old one "
    "later). Without it the keys come from $STACHE_SESSION_KEY (comma or newline "
    "separated), else a random key per process (sessions end on restart).");
ABSL_FLAG(int, trusted_proxy_hops, 0,
          "Proxies in front of the gateway (a load balancer is 1) whose X-Forwarded-For "
          "and X-Forwarded-Proto are believed: the client is the Nth address from the "
          "right of X-Forwarded-For. 0 believes neither.");
ABSL_FLAG(double, upload_rate, 30,
          "Uploads per minute per client address (token bucket); beyond it 429 with "
          "Retry-After. 0 turns the limit off. Loopback clients are exempt.");
ABSL_FLAG(int, upload_burst, 10,
          "Uploads a client may make at once before --upload_rate applies.");
ABSL_FLAG(std::vector<std::string>, rate_limit_exempt_cidrs, {},
          "Comma-separated networks (e.g. 172.16.0.0/12) whose clients the upload limit "
          "never applies to, besides loopback.");
ABSL_FLAG(std::string, detector_address, "localhost:50051",
          "gRPC address (host:port or dns:///name:port) of the detector.");
ABSL_FLAG(std::string, overlay_address, "localhost:50052",
          "gRPC address of the overlay service.");
ABSL_FLAG(std::string, storage_address, "localhost:50053",
          "gRPC address of the storage service.");
ABSL_FLAG(int64_t, max_body_bytes, 20'000'000,
          "Largest upload accepted, in bytes; larger ones get 413 before they are read.");
ABSL_FLAG(std::string, storage_namespace, "gateway",
          "Storage namespace holding the uploads and results.");
ABSL_FLAG(
    std::string, storage_token_file, "",
    "File whose first line is the storage bearer token. Without it the token comes "
    "from $STACHE_STORAGE_TOKEN, else the development token, which is used only when "
    "--host is loopback (or with --insecure_dev_auth).");
ABSL_FLAG(absl::Duration, backend_timeout, absl::Seconds(10),
          "Deadline of each call to the detector, overlay and storage.");
ABSL_FLAG(absl::Duration, probe_timeout, absl::Seconds(2),
          "Deadline of the health and info calls behind /readyz and /v1/info.");
ABSL_FLAG(int, http_threads, 32,
          "Threads running HTTP handlers (which wait for the backends); reading and "
          "writing are asynchronous, so a slow client holds none.");
ABSL_FLAG(int, http_max_waiting_connections, 256,
          "Requests read in full and waiting for a handler thread; beyond them 503.");
ABSL_FLAG(int, http_max_connections, 512,
          "Open HTTP connections; beyond them new connections wait in the kernel's "
          "listen backlog (bounded memory).");
ABSL_FLAG(int64_t, http_body_memory_bytes, 200'000'000,
          "Request bodies held in memory by all connections together; an upload that "
          "would pass it gets 503.");
ABSL_FLAG(absl::Duration, http_read_timeout, absl::Seconds(60),
          "The whole request, headers and body, must arrive within this (from its first "
          "byte); a client that takes longer is disconnected, however it trickles.");
ABSL_FLAG(absl::Duration, http_write_timeout, absl::Seconds(30),
          "The whole response must be taken within this, else the client is "
          "disconnected.");
ABSL_FLAG(absl::Duration, http_keep_alive_timeout, absl::Seconds(5),
          "Idle keep-alive connections are closed after this long.");

int main(int argc, char** argv) {
  // Request bodies and images are allocated and freed by the megabyte. By
  // default glibc raises its mmap threshold after such a free (up to
  // 32 MB), so later ones come from heaps it keeps: RSS would stay at the
  // high-water mark of the last attack. Fixed, they go back to the system.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  stache::server::SetLogService("gateway");
  stache::server::ParseFlags(
      argc, argv,
      "stache-gateway: the HTTP API and web page in front of the gRPC services.");
  stache::server::KeepFreedMemoryForReuse();
  absl::StatusOr<stache::server::TlsMaterial> tls = stache::server::ClientTlsFromFlags();
  absl::StatusOr<std::string> token = stache::gateway::LoadStorageToken(
      absl::GetFlag(FLAGS_storage_token_file), std::getenv("STACHE_STORAGE_TOKEN"),
      tls.ok() && !tls->cert_pem.empty());
  absl::StatusOr<std::vector<std::string>> session_keys =
      stache::gateway::LoadSessionKeys(absl::GetFlag(FLAGS_session_key_file),
                                       std::getenv("STACHE_SESSION_KEY"));
  const char* ecs_metadata_uri = std::getenv("ECS_CONTAINER_METADATA_URI_V4");
  stache::gateway::GatewayConfig config{
      .http = {.host = absl::GetFlag(FLAGS_host),
               .port = absl::GetFlag(FLAGS_port),
               .max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes),
               .body_memory_bytes = absl::GetFlag(FLAGS_http_body_memory_bytes),
               .threads = absl::GetFlag(FLAGS_http_threads),
               .max_waiting_connections =
                   absl::GetFlag(FLAGS_http_max_waiting_connections),
               .max_connections = absl::GetFlag(FLAGS_http_max_connections),
               .read_timeout = absl::GetFlag(FLAGS_http_read_timeout),
               .write_timeout = absl::GetFlag(FLAGS_http_write_timeout),
               .keep_alive_timeout = absl::GetFlag(FLAGS_http_keep_alive_timeout)},
      .admin_port = absl::GetFlag(FLAGS_admin_port),
      .grace_period = absl::GetFlag(FLAGS_grace_period),
      .drain_delay = absl::GetFlag(FLAGS_drain_delay),
      .detector_address = absl::GetFlag(FLAGS_detector_address),
      .overlay_address = absl::GetFlag(FLAGS_overlay_address),
      .storage_address = absl::GetFlag(FLAGS_storage_address),
      .tls = tls.ok() ? *tls : stache::server::TlsMaterial(),
      .max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes),
      .storage_namespace = absl::GetFlag(FLAGS_storage_namespace),
      .storage_token = token.ok() ? *token : "",
      .insecure_dev_auth = absl::GetFlag(FLAGS_insecure_dev_auth),
      .session_keys = session_keys.ok() ? *session_keys : std::vector<std::string>(),
      .trusted_proxy_hops = absl::GetFlag(FLAGS_trusted_proxy_hops),
      .upload_rate_per_minute = absl::GetFlag(FLAGS_upload_rate),
      .upload_burst = absl::GetFlag(FLAGS_upload_burst),
      .rate_limit_exempt_cidrs = absl::GetFlag(FLAGS_rate_limit_exempt_cidrs),
      .backend_timeout = absl::GetFlag(FLAGS_backend_timeout),
      .probe_timeout = absl::GetFlag(FLAGS_probe_timeout),
      .ecs_metadata_uri = ecs_metadata_uri != nullptr ? ecs_metadata_uri : ""};
  absl::Status status = !tls.ok()            ? tls.status()
                        : !token.ok()        ? token.status()
                        : !session_keys.ok() ? session_keys.status()
                                             : stache::gateway::RunGatewayProcess(config);
  if (!status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
