#include "server/rpc_observer.h"

#include <google/protobuf/message.h>
#include <google/protobuf/message_lite.h>
#include <grpc/grpc.h>
#include <grpcpp/server_context.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/grpc_metadata.h"
#include "server/log.h"

namespace stache::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Holds a reference to a call so that the limiter's watchdog can end it
// from its own thread whenever it must, even while the call is finishing.
class CallReference final {
 public:
  explicit CallReference(grpc_call* call) : call_(call) { grpc_call_ref(call_); }
  ~CallReference() { grpc_call_unref(call_); }
  CallReference(const CallReference&) = delete;
  CallReference& operator=(const CallReference&) = delete;

  void End(const absl::Status& status) const {
    grpc_call_cancel_with_status(call_, static_cast<grpc_status_code>(status.code()),
                                 std::string(status.message()).c_str(), nullptr);
  }

 private:
  grpc_call* const call_;
};

absl::Time ClientDeadline(const grpc::ServerContextBase& context) {
  const auto deadline = context.deadline();
  return deadline == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(deadline);
}

class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  RpcObserver(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics,
              CallLimiter* limiter)
      : info_(info), metrics_(metrics), limiter_(limiter), start_(absl::Now()) {
    std::tie(service_, method_) = SplitFullMethod(info->method() ? info->method() : "");
    counts_bytes_ = service_.rfind("stache.", 0) == 0;
    kind_ = ClassifyCall(service_, method_,
                         info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY);
  }

  ~RpcObserver() override {
    // A call cancelled before its status was sent still leaves the in-flight
    // gauge and gets counted.
    absl::Status ended = ReleaseAdmission();
    if (started_ && !finished_) {
      Finish(ended.ok() ? "CANCELLED" : StatusCodeName(ended),
             std::string(ended.message()));
    }
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      ReceivedMetadata* metadata = methods->GetRecvInitialMetadata();
      request_ = RequestContextFromMetadata(*metadata);
      ShareRequestId(*metadata);
      started_ = true;
      metrics_->CallStarted(service_, method_);
      Admit();
    }
    if (admission_ != 0 &&
        (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) ||
         methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE))) {
      limiter_->Touch(admission_);
    }
    // gRPC's own services (the built-in health service) may pass raw
    // ByteBuffers rather than protobuf messages: only stache's APIs, which
    // are generated protobuf services, are measured in bytes.
    if (counts_bytes_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (auto* message =
              static_cast<google::protobuf::MessageLite*>(methods->GetRecvMessage())) {
        metrics_->MessageReceived(service_, method_, message->ByteSizeLong());
        if (const auto* full = dynamic_cast<const google::protobuf::Message*>(message)) {
          metrics_->FieldsUsed(service_, method_, InspectRequestFields(*full));
        }
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
      // A call the server refused or ended has already sent that status; the
      // handler's own (CANCELLED) would be counted otherwise.
      const absl::Status ended = ReleaseAdmission();
      if (!ended.ok()) {
        methods->ModifySendStatus(ToGrpc(ended));
        Finish(StatusCodeName(ended), std::string(ended.message()));
      } else {
        const grpc::Status status = methods->GetSendStatus();
        Finish(CodeName(status.error_code()), status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  static std::string StatusCodeName(const absl::Status& status) {
    return absl::StatusCodeToString(status.code());
  }
  static grpc::Status ToGrpc(const absl::Status& status) {
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        std::string(status.message()));
  }

  // Handlers read the request id from the metadata; when the caller sent
  // none (or a malformed one), they see the one this call is logged with.
  void ShareRequestId(ReceivedMetadata& metadata) {
    if (MetadataValue(metadata, kRequestIdMetadata) == request_.request_id()) return;
    metadata.erase(grpc::string_ref(kRequestIdMetadata));
    metadata.emplace(grpc::string_ref(kRequestIdMetadata),
                     grpc::string_ref(request_.request_id()));
  }

  void Admit() {
    if (limiter_ == nullptr) return;
    grpc::ServerContextBase* context = info_->server_context();
    if (context == nullptr || context->c_call() == nullptr) return;
    auto call = std::make_shared<CallReference>(context->c_call());
    absl::StatusOr<uint64_t> admitted =
        limiter_->Admit(kind_, ClientDeadline(*context),
                        [call](const absl::Status& status) { call->End(status); });
    if (admitted.ok()) {
      admission_ = *admitted;
      metrics_->CallAdmitted(kind_);
      return;
    }
    refused_ = admitted.status();
    metrics_->CallRefused(kind_);
    // The status goes to the client now; TryCancel then marks the context
    // cancelled so that the handler (which gRPC still runs) does no work.
    // The first cancellation's status is the one sent.
    call->End(refused_);
    context->TryCancel();
  }

  // The status the server ended the call with (refused, past its deadline,
  // idle), OK otherwise.
  absl::Status ReleaseAdmission() {
    if (!refused_.ok()) return refused_;
    if (admission_ == 0) return absl::OkStatus();
    const uint64_t admission = std::exchange(admission_, 0);
    metrics_->CallReleased(kind_);
    return limiter_->Release(admission);
  }

  void Finish(const std::string& code, const std::string& message = "") {
    if (finished_) return;
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

  grpc::experimental::ServerRpcInfo* const info_;
  RpcMetrics* const metrics_;
  CallLimiter* const limiter_;
  const absl::Time start_;
  std::string service_;
  std::string method_;
  CallKind kind_ = CallKind::kWork;
  RequestContext request_;
  uint64_t admission_ = 0;
  absl::Status refused_;
  bool counts_bytes_ = false;
  bool started_ = false;
  bool finished_ = false;
};

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcObserverFactory(RpcMetrics* metrics, CallLimiter* limiter)
      : metrics_(metrics), limiter_(limiter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcObserver(info, metrics_, limiter_);
  }

 private:
  RpcMetrics* const metrics_;
  CallLimiter* const limiter_;
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
                                      {"grpc_service", "grpc_method"})),
      admitted_(registry.AddGauge(
          "stache_grpc_server_admitted_calls",
          "Calls admitted and not yet finished, by kind (work, stream, control_stream, "
          "health_watch, health_check); each kind has its own limit.",
          {"kind"})),
      refused_(registry.AddCounter("stache_grpc_server_refused_calls_total",
                                   "Calls refused because their kind was at its limit.",
                                   {"kind"})),
      unknown_fields_(registry.AddCounter(
          "stache_grpc_server_unknown_fields_total",
          "Request messages carrying a field (\"<message>.#<number>\") or enum value "
          "(\"<field>=<number>\") this server's schema does not know: a newer client.",
          {"grpc_service", "grpc_method", "field"})),
      deprecated_fields_(registry.AddCounter(
          "stache_grpc_server_deprecated_fields_total",
          "Request messages setting a field the schema marks deprecated.",
          {"grpc_service", "grpc_method", "field"})) {}

void RpcMetrics::FieldsUsed(const std::string& service, const std::string& method,
                            const RequestFieldUsage& usage) {
  for (const std::string& field : usage.unknown) {
    FieldUsed(unknown_fields_, "unknown", service, method, field);
  }
  for (const std::string& field : usage.deprecated) {
    FieldUsed(deprecated_fields_, "deprecated", service, method, field);
  }
}

void RpcMetrics::FieldUsed(Counter& counter, const char* kind, const std::string& service,
                           const std::string& method, const std::string& field) {
  bool first = false;
  std::string label = field;
  {
    absl::MutexLock lock(&mutex_);
    const std::string key = absl::StrCat(kind, " ", service, "/", method, " ", field);
    if (!seen_fields_.contains(key)) {
      if (seen_fields_.size() < kMaxFieldLabels) {
        seen_fields_.insert(key);
        first = true;
      } else {
        label = "other";
      }
    }
  }
  counter.Increment({service, method, label});
  if (first) {
    Log(LogLevel::kWarning, absl::StrCat("request with ", kind, " field"),
        {{"rpc_service", service},
         {"rpc_method", method},
         {"field", field},
         {"note", "logged once per process; counted in stache_grpc_server_" +
                      std::string(kind) + "_fields_total"}});
  }
}

void RpcMetrics::CallAdmitted(CallKind kind) { admitted_.Add({CallKindName(kind)}, 1); }

void RpcMetrics::CallReleased(CallKind kind) { admitted_.Add({CallKindName(kind)}, -1); }

void RpcMetrics::CallRefused(CallKind kind) { refused_.Increment({CallKindName(kind)}); }

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
RpcObserverFactories(RpcMetrics* metrics, CallLimiter* limiter) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      factories;
  factories.push_back(std::make_unique<RpcObserverFactory>(metrics, limiter));
  return factories;
}

}  // namespace stache::server
