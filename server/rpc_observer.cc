#include "server/rpc_observer.h"

#include <google/protobuf/message_lite.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "server/log.h"
#include "server/request_context.h"

namespace stache::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  RpcObserver(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : metrics_(metrics), start_(absl::Now()) {
    std::tie(service_, method_) = SplitFullMethod(info->method() ? info->method() : "");
    counts_bytes_ = service_.rfind("stache.", 0) == 0;
  }

  ~RpcObserver() override {
    // A call cancelled before its status was sent still leaves the in-flight
    // gauge and gets counted.
    if (started_ && !finished_) Finish("CANCELLED");
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      request_ = RequestContext::FromMetadata(*methods->GetRecvInitialMetadata());
      started_ = true;
      metrics_->CallStarted(service_, method_);
    }
    // gRPC's own services (the built-in health service) may pass raw
    // ByteBuffers rather than protobuf messages: only stache's APIs, which
    // are generated protobuf services, are measured in bytes.
    if (counts_bytes_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (auto* message =
              static_cast<google::protobuf::MessageLite*>(methods->GetRecvMessage())) {
        metrics_->MessageReceived(service_, method_, message->ByteSizeLong());
      }
    }
    if (counts_bytes_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      if (const auto* message = static_cast<const google::protobuf::MessageLite*>(
              methods->GetSendMessage())) {
        metrics_->MessageSent(service_, method_, message->ByteSizeLong());
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      // Echoed in the trailers, not the headers: headers on an error would
      // turn a trailers-only response into one that clients may no longer
      // retry transparently.
      auto* trailers = methods->GetSendTrailingMetadata();
      trailers->emplace(kRequestIdMetadata, request_.request_id());
      trailers->emplace(kTraceparentMetadata, request_.traceparent());
      const grpc::Status status = methods->GetSendStatus();
      Finish(CodeName(status.error_code()), status.error_message());
    }
    methods->Proceed();
  }

 private:
  void Finish(const std::string& code, const std::string& message = "") {
    finished_ = true;
    const absl::Duration latency = absl::Now() - start_;
    metrics_->CallFinished(service_, method_, code, latency);
    // Health checks and reflection are polled constantly; only the APIs'
    // own calls are worth a line each.
    if (service_.rfind("grpc.", 0) == 0) return;
    LogFields fields =
        request_.WithLogFields({{"rpc_service", service_},
                                {"rpc_method", method_},
                                {"code", code},
                                {"duration_ms", absl::ToDoubleMilliseconds(latency)}});
    if (!message.empty()) fields["error"] = message;
    Log(code == "OK" ? LogLevel::kInfo : LogLevel::kWarning, "rpc", fields);
  }

  RpcMetrics* const metrics_;
  const absl::Time start_;
  std::string service_;
  std::string method_;
  RequestContext request_;
  bool counts_bytes_ = false;
  bool started_ = false;
  bool finished_ = false;
};

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcObserverFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcObserver(info, metrics_);
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

std::pair<std::string, std::string> SplitFullMethod(const std::string& full_method) {
  const size_t slash = full_method.rfind('/');
  if (full_method.empty() || full_method[0] != '/' || slash == 0 ||
      slash == std::string::npos) {
    return {"unknown", "unknown"};
  }
  return {full_method.substr(1, slash - 1), full_method.substr(slash + 1)};
}

RpcMetrics::RpcMetrics(MetricsRegistry& registry)
    : handled_(registry.AddCounter("stache_grpc_server_handled_total",
                                   "RPCs completed, by service, method and status code.",
                                   {"grpc_service", "grpc_method", "grpc_code"})),
      latency_(registry.AddHistogram(
          "stache_grpc_server_handling_seconds",
          "Time from receiving an RPC's metadata to sending its status.",
          {"grpc_service", "grpc_method"}, LatencyBucketsSeconds())),
      in_flight_(registry.AddGauge("stache_grpc_server_in_flight_calls",
                                   "RPCs being handled now.",
                                   {"grpc_service", "grpc_method"})),
      received_bytes_(registry.AddCounter("stache_grpc_server_received_bytes_total",
                                          "Protobuf bytes of request messages received.",
                                          {"grpc_service", "grpc_method"})),
      sent_bytes_(registry.AddCounter("stache_grpc_server_sent_bytes_total",
                                      "Protobuf bytes of response messages sent.",
                                      {"grpc_service", "grpc_method"})) {}

void RpcMetrics::CallStarted(const std::string& service, const std::string& method) {
  in_flight_.Add({service, method}, 1);
}

void RpcMetrics::CallFinished(const std::string& service, const std::string& method,
                              const std::string& code, absl::Duration latency) {
  in_flight_.Add({service, method}, -1);
  handled_.Increment({service, method, code});
  latency_.Observe({service, method}, absl::ToDoubleSeconds(latency));
}

void RpcMetrics::MessageReceived(const std::string& service, const std::string& method,
                                 size_t bytes) {
  received_bytes_.Increment({service, method}, static_cast<double>(bytes));
}

void RpcMetrics::MessageSent(const std::string& service, const std::string& method,
                             size_t bytes) {
  sent_bytes_.Increment({service, method}, static_cast<double>(bytes));
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
RpcObserverFactories(RpcMetrics* metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      factories;
  factories.push_back(std::make_unique<RpcObserverFactory>(metrics));
  return factories;
}

}  // namespace stache::server
