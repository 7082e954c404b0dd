#include "server/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "server/build_info.h"
#include "server/log.h"

namespace stache::server {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration duration) {
  return absl::ToChronoTime(absl::Now() + duration);
}

// A duration as a channel argument (an int of milliseconds).
int ClampedMilliseconds(absl::Duration duration) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(duration), INT32_MAX));
}

}  // namespace

int MaxMessageBytes(int64_t max_image_bytes) {
  const int64_t limit = max_image_bytes + kMessageOverheadBytes;
  return limit > INT32_MAX ? INT32_MAX : static_cast<int>(limit);
}

CallLimits CallLimitsOf(const ServerConfig& config) {
  return CallLimits{.max_work_calls = config.max_concurrent_calls,
                    .max_streams = config.max_concurrent_streams,
                    .max_control_streams = config.max_control_streams,
                    .default_call_deadline = config.default_call_deadline,
                    .default_stream_deadline = config.default_stream_deadline,
                    .stream_idle_timeout = config.stream_idle_timeout};
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  if (config.port < 0 || config.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--port %d is not a TCP port (0..65535)", config.port));
  }
  if (config.grace_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--grace_period must not be negative");
  }
  if (config.drain_delay < absl::ZeroDuration() ||
      config.drain_delay > config.grace_period) {
    return absl::InvalidArgumentError(
        "--drain_delay must be between 0 and --grace_period");
  }
  if (config.max_connection_age <= absl::ZeroDuration() ||
      config.max_connection_age_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--max_connection_age must be positive and --max_connection_age_grace not "
        "negative");
  }
  if (config.max_image_bytes <= 0 ||
      config.max_image_bytes > INT32_MAX - kMessageOverheadBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--max_image_bytes %d must be between 1 and %d",
                        config.max_image_bytes, INT32_MAX - kMessageOverheadBytes));
  }
  return ValidateCallLimits(CallLimitsOf(config));
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerConfig& config, ServiceIdentity identity,
    const std::vector<grpc::Service*>& services, MetricsRegistry* registry) {
  if (absl::Status status = ValidateServerConfig(config); !status.ok()) {
    return status;
  }
  absl::StatusOr<TlsMaterial> tls = LoadServerTls(config.tls);
  if (!tls.ok()) return tls.status();
  grpc::EnableDefaultHealthCheckService(true);
  // A direct call keeps the reflection library linked (it otherwise relies on
  // a static initializer that the linker may drop).
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC's built-in health service has no descriptor of its own; touching
  // ours links it into the generated pool so reflection can describe it and
  // grpcurl can call grpc.health.v1.Health/Check.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  const std::vector<std::string> health_names = identity.service_names;
  std::unique_ptr<MetricsRegistry> own_registry;
  if (registry == nullptr) {
    own_registry = std::make_unique<MetricsRegistry>();
    registry = own_registry.get();
  }
  auto rpc_metrics = std::make_unique<RpcMetrics>(*registry);
  std::unique_ptr<GrpcServer> server(
      new GrpcServer(config, std::move(own_registry), std::move(rpc_metrics),
                     std::make_unique<InfoServiceImpl>(std::move(identity))));
  if (config.admin_port >= 0) {
    auto admin = AdminServer::Start(config.host, config.admin_port, registry);
    if (!admin.ok()) return admin.status();
    server->admin_ = std::move(*admin);
  }

  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = absl::StrCat(config.host, ":", config.port);
  // With TLS the port speaks nothing else: a plaintext client fails its
  // handshake.
  builder.AddListeningPort(address, MakeServerCredentials(*tls), &port);
  // Without this, Linux lets a second process bind the same port and the
  // two silently share traffic; a busy port must be a start-up error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             ClampedMilliseconds(config.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             ClampedMilliseconds(config.max_connection_age_grace));
  builder.SetMaxReceiveMessageSize(MaxMessageBytes(config.max_image_bytes));
  builder.SetMaxSendMessageSize(MaxMessageBytes(config.max_image_bytes));
  if (config.max_concurrent_calls > 0) {
    // The synchronous server runs one call per thread and answers
    // RESOURCE_EXHAUSTED when the quota has no thread left, so this bounds
    // concurrent work and memory instead of queueing without limit. Each
    // kind of call has its own share, and the limiter refuses a kind over
    // its share before its handler works, so idle streams cannot take the
    // threads of unary work. One more thread: the thread polling for new
    // calls uses the quota too. (Health is served by gRPC's own service
    // without these threads.)
    grpc::ResourceQuota quota("stache-calls");
    quota.SetMaxThreads(config.max_concurrent_calls + config.max_concurrent_streams +
                        config.max_control_streams + 1);
    builder.SetResourceQuota(quota);
  }
  builder.experimental().SetInterceptorCreators(
      RpcObserverFactories(server->rpc_metrics_.get(), server->limiter_.get()));
  builder.RegisterService(server->info_.get());
  for (grpc::Service* service : services) builder.RegisterService(service);

  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address,
                     ": the port is in use or the address is not local"));
  }
  server->port_ = port;
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  for (const std::string& name : health_names) {
    server->server_->GetHealthCheckService()->SetServingStatus(name, true);
  }
  LogInfo("serving",
          {{"address", config.host},
           {"port", port},
           {"transport", tls->Mode()},
           {"version", std::string(kVersion)},
           {"build_id", std::string(kBuildId)},
           {"admin_port", server->admin_port()},
           {"max_concurrent_calls", config.max_concurrent_calls},
           {"max_concurrent_streams", config.max_concurrent_streams},
           {"max_control_streams", config.max_control_streams},
           {"default_call_deadline", absl::FormatDuration(config.default_call_deadline)},
           {"stream_idle_timeout", absl::FormatDuration(config.stream_idle_timeout)},
           {"max_connection_age", absl::FormatDuration(config.max_connection_age)},
           {"max_message_bytes", MaxMessageBytes(config.max_image_bytes)}});
  return server;
}

GrpcServer::GrpcServer(ServerConfig config, std::unique_ptr<MetricsRegistry> own_registry,
                       std::unique_ptr<RpcMetrics> rpc_metrics,
                       std::unique_ptr<InfoServiceImpl> info)
    : config_(std::move(config)),
      own_registry_(std::move(own_registry)),
      rpc_metrics_(std::move(rpc_metrics)),
      info_(std::move(info)),
      limiter_(std::make_unique<CallLimiter>(CallLimitsOf(config_))) {}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

void GrpcServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  // Health first, so balancers and health-checking clients move away before
  // the listener closes.
  server_->GetHealthCheckService()->SetServingStatus(false);
  const absl::Duration delay = std::min(config_.drain_delay, grace);
  absl::SleepFor(delay);
  server_->Shutdown(DeadlineAfter(grace - delay));
  server_->Wait();
}

absl::Status GrpcServer::RunUntilTerminated() {
  const int signal_number = WaitForTerminationSignal();
  LogInfo("shutting down",
          {{"signal", strsignal(signal_number)},
           {"grace_period_seconds", absl::ToDoubleSeconds(config_.grace_period)}});
  Shutdown(config_.grace_period);
  LogInfo("stopped");
  return absl::OkStatus();
}

}  // namespace stache::server
