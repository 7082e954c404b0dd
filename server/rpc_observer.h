// Observes every RPC a GrpcServer serves, through a gRPC server interceptor:
//  - Prometheus metrics per service, method and status code: calls, latency,
//    calls in flight, message bytes in and out;
//  - one JSON access log line per call with its request id and traceparent;
//  - the request id and traceparent echoed back as trailing metadata (and
//    put into the call's metadata when the caller sent none, so that the
//    handler sees the same id);
//  - requests that carry fields the server does not know (a newer client's)
//    or set deprecated fields, counted by method and field, the first of
//    each logged (server/request_fields.h);
//  - with a CallLimiter, admission by kind of call (refused calls end with
//    RESOURCE_EXHAUSTED before the handler does any work) and the server's
//    deadlines and idle timeouts.
//
//   RpcMetrics metrics(registry);
//   builder.experimental().SetInterceptorCreators(RpcObserverFactories(&metrics,
//   &limiter));
#ifndef STACHE_SERVER_RPC_OBSERVER_H_
#define STACHE_SERVER_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/call_limits.h"
#include "server/metrics.h"
#include "server/request_fields.h"

namespace stache::server {

// The gRPC server metric families, registered in the given registry.
// Thread-safe.
class RpcMetrics final {
 public:
  explicit RpcMetrics(MetricsRegistry& registry);

  void CallStarted(const std::string& service, const std::string& method);
  void CallFinished(const std::string& service, const std::string& method,
                    const std::string& code, absl::Duration latency);
  void MessageReceived(const std::string& service, const std::string& method,
                       size_t bytes);
  void MessageSent(const std::string& service, const std::string& method, size_t bytes);
  // Admission by kind of call (see CallLimiter).
  void CallAdmitted(CallKind kind);
  void CallReleased(CallKind kind);
  void CallRefused(CallKind kind);
  // Counts what `usage` lists and logs each (service, method, field) the
  // first time this process sees it. The field label takes at most
  // kMaxFieldLabels distinct values; later ones are counted as "other",
  // since clients choose them.
  void FieldsUsed(const std::string& service, const std::string& method,
                  const RequestFieldUsage& usage);
  static constexpr size_t kMaxFieldLabels = 200;

 private:
  void FieldUsed(Counter& counter, const char* kind, const std::string& service,
                 const std::string& method, const std::string& field);

  Counter& handled_;
  Histogram& latency_;
  Gauge& in_flight_;
  Counter& received_bytes_;
  Counter& sent_bytes_;
  Gauge& admitted_;
  Counter& refused_;
  Counter& unknown_fields_;
  Counter& deprecated_fields_;
  absl::Mutex mutex_;
  // "<kind> <service>/<method> <field>" already counted (and logged).
  std::set<std::string> seen_fields_ ABSL_GUARDED_BY(mutex_);
};

// "/stache.detector.v1.DetectorService/Detect" -> {"stache.detector.v1.DetectorService",
// "Detect"}.
std::pair<std::string, std::string> SplitFullMethod(const std::string& full_method);

// The interceptor factories to install on a ServerBuilder. `metrics` and
// `limiter` (optional) must outlive the server.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
RpcObserverFactories(RpcMetrics* metrics, CallLimiter* limiter = nullptr);

}  // namespace stache::server

#endif  // STACHE_SERVER_RPC_OBSERVER_H_
