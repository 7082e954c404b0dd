#include "gateway/backend_clients.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/error_reason.h"
#include "server/status.h"

namespace stache::gateway {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

void AttachTrace(const CallContext& call, grpc::ClientContext& context) {
  if (!call.request_context.request_id().empty())
    call.request_context.ChildSpan().AttachTo(&context);
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

BackendProbe::BackendProbe(
    std::unique_ptr<info::v1::InfoService::StubInterface> info,
    std::unique_ptr<grpc::health::v1::Health::StubInterface> health)
    : info_(std::move(info)), health_(std::move(health)) {}

BackendProbe::BackendProbe(const std::shared_ptr<grpc::ChannelInterface>& channel)
    : BackendProbe(info::v1::InfoService::NewStub(channel),
                   grpc::health::v1::Health::NewStub(channel)) {}

absl::StatusOr<info::v1::GetInfoResponse> BackendProbe::GetInfo(const CallContext& call) {
  return Unary<info::v1::GetInfoResponse>(
      call, {nullptr, "info", "GetInfo"},
      [&](grpc::ClientContext* context, info::v1::GetInfoResponse* response) {
        return info_->GetInfo(context, info::v1::GetInfoRequest(), response);
      });
}

absl::StatusOr<HealthCheckResponse::ServingStatus> BackendProbe::CheckHealth(
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

std::vector<std::string> ResolveTargetAddresses(const std::string& target,
                                                size_t max_addresses) {
  absl::string_view rest = target;
  if (!absl::ConsumePrefix(&rest, "dns:///") && absl::StrContains(rest, ":/")) {
    return {target};  // another resolver scheme: ask the target as a whole
  }
  if (absl::StartsWith(rest, "ipv4:") || absl::StartsWith(rest, "ipv6:") ||
      absl::StartsWith(rest, "unix:")) {
    return {target};
  }
  std::string host;
  std::string port;
  if (absl::ConsumePrefix(&rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos || rest.substr(close + 1, 1) != ":")
      return {target};
    host = std::string(rest.substr(0, close));
    port = std::string(rest.substr(close + 2));
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return {target};
    host = std::string(rest.substr(0, colon));
    port = std::string(rest.substr(colon + 1));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &results) != 0) return {target};
  std::vector<std::string> addresses;
  for (addrinfo* entry = results; entry != nullptr && addresses.size() < max_addresses;
       entry = entry->ai_next) {
    char ip[NI_MAXHOST] = {};
    if (getnameinfo(entry->ai_addr, entry->ai_addrlen, ip, sizeof(ip), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    std::string address = entry->ai_family == AF_INET6 ? absl::StrCat("[", ip, "]:", port)
                                                       : absl::StrCat(ip, ":", port);
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(std::move(address));
    }
  }
  freeaddrinfo(results);
  if (addresses.empty()) return {target};
  return addresses;
}

std::string TargetHost(absl::string_view target) {
  if (!absl::ConsumePrefix(&target, "dns:///") && absl::StrContains(target, ":/"))
    return "";
  if (absl::StartsWith(target, "ipv4:") || absl::StartsWith(target, "ipv6:") ||
      absl::StartsWith(target, "unix:")) {
    return "";
  }
  if (absl::ConsumePrefix(&target, "["))
    return std::string(target.substr(0, target.find(']')));
  return std::string(target.substr(0, target.rfind(':')));
}

}  // namespace stache::gateway
