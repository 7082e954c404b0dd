// A gRPC server with what every stache service needs around its own API:
// grpc.health.v1 health checking, server reflection (grpcurl works without
// .proto files), stache.info.v1.InfoService, message limits sized for the
// largest image, and a graceful shutdown.
//
//   DetectorServiceImpl detector(...);
//   STACHE_ASSIGN_OR_RETURN(auto server, GrpcServer::Start(config, identity,
//   {&detector})); return server->RunUntilTerminated();  // blocks until SIGTERM/SIGINT
#ifndef STACHE_SERVER_GRPC_SERVER_H_
#define STACHE_SERVER_GRPC_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/admin_server.h"
#include "server/call_limits.h"
#include "server/info_service.h"
#include "server/metrics.h"
#include "server/rpc_observer.h"
#include "server/termination_signals.h"
#include "server/tls.h"

namespace stache::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port (tests).
  absl::Duration grace_period = absl::Seconds(20);
  // Part of the grace period spent still serving after health has gone
  // NOT_SERVING, so that clients watching health (every MakeChannel
  // channel) move to other replicas before the listener closes: calls that
  // arrive after that would be refused, and those not yet picked up by a
  // handler thread cancelled.
  absl::Duration drain_delay = absl::Seconds(1);
  // Largest encoded image accepted; gRPC message limits are this plus
  // kMessageOverheadBytes for the other fields of a request.
  int64_t max_image_bytes = 25'000'000;
  // HTTP port for /metrics and /healthz; 0 picks a free port, -1 turns it off.
  int admin_port = -1;
  // Unary calls handled at once; more get RESOURCE_EXHAUSTED at once instead
  // of queueing without bound. 0 means no limit.
  int max_concurrent_calls = 0;
  // Streaming calls of the service's own API (storage Put/Get) at once,
  // counted apart from unary calls so that they cannot block them. 0 means no
  // limit (they then share the unary calls' threads).
  int max_concurrent_streams = 0;
  // Server reflection streams at once, counted apart from both. 0 means no
  // limit. (Health is served by gRPC's own service without our threads and
  // is never refused.)
  int max_control_streams = 0;
  // Calls whose client set no deadline end with DEADLINE_EXCEEDED after this
  // long (unary) / this long (streams; not health Watch).
  absl::Duration default_call_deadline = absl::Seconds(30);
  absl::Duration default_stream_deadline = absl::Minutes(5);
  // Streams (not health Watch) with no message either way for this long end
  // with DEADLINE_EXCEEDED.
  absl::Duration stream_idle_timeout = absl::Seconds(30);
  // A connection is closed (GOAWAY) after about this long (gRPC adds up to
  // 10% jitter), and its calls in flight get `max_connection_age_grace` to
  // finish. Clients then reconnect and resolve the name again, so replicas
  // added by a scale-out take their share of calls within this bound: a
  // DNS name (Compose, Cloud Map) resolves only when a connection ends.
  absl::Duration max_connection_age = absl::Minutes(1);
  // At least the stream deadline, so that an upload or download that is
  // allowed to run is never cut by the recycling.
  absl::Duration max_connection_age_grace = absl::Minutes(5);
  // The gRPC port's TLS files (see LoadServerTls); none: plaintext. The
  // admin port stays plain HTTP.
  TlsConfig tls;
};

// The per-kind call limits of a server config.
CallLimits CallLimitsOf(const ServerConfig& config);

// Room for the non-image fields of a message (faces, options, metadata).
inline constexpr int64_t kMessageOverheadBytes = 1 << 20;

// The gRPC message size limit that fits an image of `max_image_bytes`.
int MaxMessageBytes(int64_t max_image_bytes);

// Rejects impossible values with a message naming the flag.
absl::Status ValidateServerConfig(const ServerConfig& config);

// Owns the grpc::Server. Thread-safe. The services passed to Start must
// outlive it.
class GrpcServer final {
 public:
  // Starts serving `services` (and health, reflection, info), observed into
  // `registry` (the service's own metric families live there too; it must
  // outlive the server; null: the server keeps a registry of its own). Fails
  // with a clear message when an address cannot be bound (port in use).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerConfig& config, ServiceIdentity identity,
      const std::vector<grpc::Service*>& services, MetricsRegistry* registry = nullptr);

  ~GrpcServer();

  // The bound port (useful with port 0).
  int port() const { return port_; }
  // The bound admin port, or -1 when it is off.
  int admin_port() const { return admin_ ? admin_->port() : -1; }
  // Calls of `kind` admitted now (tests, diagnostics).
  int InFlight(CallKind kind) const { return limiter_->InFlight(kind); }

  // Health goes NOT_SERVING for every service; after the config's
  // drain_delay (at most `grace`) new calls are refused, and in-flight calls
  // get the rest of `grace` to finish and are then cancelled.
  void Shutdown(absl::Duration grace);

  // Blocks SIGTERM and SIGINT, waits for one, then Shutdown(grace_period).
  // Returns OK: a signalled shutdown is a clean exit.
  absl::Status RunUntilTerminated();

 private:
  GrpcServer(ServerConfig config, std::unique_ptr<MetricsRegistry> own_registry,
             std::unique_ptr<RpcMetrics> rpc_metrics,
             std::unique_ptr<InfoServiceImpl> info);

  const ServerConfig config_;
  // Declared before the server so that they outlive it.
  std::unique_ptr<MetricsRegistry> own_registry_;
  std::unique_ptr<RpcMetrics> rpc_metrics_;
  std::unique_ptr<InfoServiceImpl> info_;
  std::unique_ptr<CallLimiter> limiter_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace stache::server

#endif  // STACHE_SERVER_GRPC_SERVER_H_
