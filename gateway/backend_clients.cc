#include "gateway/backend_clients.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/error_reason.h"
#include "server/grpc_metadata.h"
#include "server/status.h"

namespace stache::gateway {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

void AttachTrace(const CallContext& call, grpc::ClientContext& context) {
  if (!call.request_context.request_id().empty())
    server::AttachRequestContext(call.request_context.ChildSpan(), &context);
}

// Who a backend call is made for, for its metrics and error messages.
struct CallSite {
  GatewayMetrics* metrics;
  const char* backend;
  const char* method;
  // Storage: the call carries the gateway's own credentials.
  bool with_credentials = false;
};

// Records the outcome of a call and names the backend in the message (so
// that an HTTP client learns which service failed).
absl::Status Record(const CallSite& site, absl::Time start, const absl::Status& status) {
  if (site.metrics != nullptr) {
    site.metrics->RecordBackendCall(site.backend, site.method,
                                    absl::StatusCodeToString(status.code()),
                                    absl::Now() - start);
  }
  if (status.ok()) return status;
  if (site.with_credentials &&
      (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status))) {
    // Storage refusing the gateway's token is the gateway's fault, not the
    // HTTP client's: it must not surface as 401/403 to a person uploading.
    return absl::InternalError(absl::StrCat(
        "the ", site.backend,
        " service refused the gateway's credentials (check "
        "--storage_token_file or STACHE_STORAGE_TOKEN, and --storage_namespace): ",
        site.method, ": ", status.message()));
  }
  // The backend's reason (google.rpc.ErrorInfo) goes on to the REST body.
  return server::WithReason(
      absl::Status(status.code(),
                   absl::StrCat(site.backend, " ", site.method, ": ", status.message())),
      server::ReasonOf(status));
}

// One unary call: deadline, metadata, status conversion and metrics around
// `invoke(context, response)`.
template <typename Response, typename Invoke>
absl::StatusOr<Response> Unary(const CallContext& call, const CallSite& site,
                               Invoke invoke) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(call.deadline));
  AttachTrace(call, context);
  Response response;
  const absl::Time start = absl::Now();
  STACHE_RETURN_IF_ERROR(
      Record(site, start, server::FromGrpcStatus(invoke(&context, &response))));
  return response;
}

}  // namespace

DetectorClient::DetectorClient(
    std::unique_ptr<detector::v1::DetectorService::StubInterface> stub,
    GatewayMetrics* metrics)
    : stub_(std::move(stub)), metrics_(metrics) {}

absl::StatusOr<detector::v1::DetectResponse> DetectorClient::Detect(
    const CallContext& call, const detector::v1::DetectRequest& request) {
  return Unary<detector::v1::DetectResponse>(
      call, {metrics_, "detector", "Detect"},
      [&](grpc::ClientContext* context, detector::v1::DetectResponse* response) {
        return stub_->Detect(context, request, response);
      });
}

OverlayClient::OverlayClient(
    std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub,
    GatewayMetrics* metrics)
    : stub_(std::move(stub)), metrics_(metrics) {}

absl::StatusOr<overlay::v1::ApplyResponse> OverlayClient::Apply(
    const CallContext& call, const overlay::v1::ApplyRequest& request) {
  return Unary<overlay::v1::ApplyResponse>(
      call, {metrics_, "overlay", "Apply"},
      [&](grpc::ClientContext* context, overlay::v1::ApplyResponse* response) {
        return stub_->Apply(context, request, response);
      });
}

absl::StatusOr<overlay::v1::ListStylesResponse> OverlayClient::ListStyles(
    const CallContext& call) {
  return Unary<overlay::v1::ListStylesResponse>(
      call, {metrics_, "overlay", "ListStyles"},
      [&](grpc::ClientContext* context, overlay::v1::ListStylesResponse* response) {
        return stub_->ListStyles(context, overlay::v1::ListStylesRequest(), response);
      });
}

NamespacedStorageClient::NamespacedStorageClient(
    std::unique_ptr<storage::v1::StorageService::StubInterface> stub,
    std::string storage_namespace, std::string bearer_token, GatewayMetrics* metrics)
    : client_(std::move(stub), {.token = std::move(bearer_token)}),
      namespace_(std::move(storage_namespace)),
      metrics_(metrics) {}

storage::CallOptions NamespacedStorageClient::Options(const CallContext& call,
                                                      uint64_t max_bytes) {
  return {
      .deadline = call.deadline,
      .prepare = [&call](grpc::ClientContext& context) { AttachTrace(call, context); },
      .max_bytes = max_bytes};
}

absl::StatusOr<storage::v1::ObjectInfo> NamespacedStorageClient::Put(
    const CallContext& call, const std::string& key, const std::string& content_type,
    const std::map<std::string, std::string>& labels, absl::string_view bytes) {
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::v1::ObjectInfo> info = client_.PutObject(
      {.ns = namespace_, .key = key, .content_type = content_type, .labels = labels},
      bytes, Options(call));
  STACHE_RETURN_IF_ERROR(Record({metrics_, "storage", "Put", /*with_credentials=*/true},
                                start, info.status()));
  return info;
}

absl::StatusOr<StoredObject> NamespacedStorageClient::Get(const CallContext& call,
                                                          const std::string& key,
                                                          int64_t max_bytes) {
  const absl::Time start = absl::Now();
  absl::StatusOr<StoredObject> object =
      client_.GetObject(namespace_, key, Options(call, static_cast<uint64_t>(max_bytes)));
  STACHE_RETURN_IF_ERROR(Record({metrics_, "storage", "Get", /*with_credentials=*/true},
                                start, object.status()));
  return object;
}

absl::StatusOr<storage::v1::ObjectInfo> NamespacedStorageClient::Stat(
    const CallContext& call, const std::string& key) {
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::v1::ObjectInfo> info =
      client_.StatObject(namespace_, key, Options(call));
  STACHE_RETURN_IF_ERROR(Record({metrics_, "storage", "Stat", /*with_credentials=*/true},
                                start, info.status()));
  return info;
}

absl::StatusOr<storage::v1::ListResponse> NamespacedStorageClient::List(
    const CallContext& call, const std::string& key_prefix, uint32_t page_size,
    const std::string& page_token) {
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::v1::ListResponse> page =
      client_.ListObjects(namespace_, key_prefix, page_size, page_token, Options(call));
  STACHE_RETURN_IF_ERROR(Record({metrics_, "storage", "List", /*with_credentials=*/true},
                                start, page.status()));
  return page;
}

absl::Status NamespacedStorageClient::Delete(const CallContext& call,
                                             const std::string& key) {
  const absl::Time start = absl::Now();
  return Record({metrics_, "storage", "Delete", /*with_credentials=*/true}, start,
                client_.DeleteObject(namespace_, key, Options(call)));
}

GrpcBackendProbe::GrpcBackendProbe(
    std::unique_ptr<info::v1::InfoService::StubInterface> info,
    std::unique_ptr<grpc::health::v1::Health::StubInterface> health)
    : info_(std::move(info)), health_(std::move(health)) {}

GrpcBackendProbe::GrpcBackendProbe(const std::shared_ptr<grpc::ChannelInterface>& channel)
    : GrpcBackendProbe(info::v1::InfoService::NewStub(channel),
                       grpc::health::v1::Health::NewStub(channel)) {}

absl::StatusOr<info::v1::GetInfoResponse> GrpcBackendProbe::GetInfo(
    const CallContext& call) {
  return Unary<info::v1::GetInfoResponse>(
      call, {nullptr, "info", "GetInfo"},
      [&](grpc::ClientContext* context, info::v1::GetInfoResponse* response) {
        return info_->GetInfo(context, info::v1::GetInfoRequest(), response);
      });
}

absl::StatusOr<HealthCheckResponse::ServingStatus> GrpcBackendProbe::CheckHealth(
    const CallContext& call, const std::string& service) {
  HealthCheckRequest request;
  request.set_service(service);
  STACHE_ASSIGN_OR_RETURN(
      HealthCheckResponse response,
      Unary<HealthCheckResponse>(
          call, {nullptr, "health", "Check"},
          [&](grpc::ClientContext* context, HealthCheckResponse* out) {
            return health_->Check(context, request, out);
          }));
  return response.status();
}

}  // namespace stache::gateway
