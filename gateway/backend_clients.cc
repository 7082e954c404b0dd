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
#include "server/status.h"

namespace stache::gateway {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// Storage objects are streamed in chunks of this size, well under every
// message limit.
constexpr size_t kChunkBytes = 1 << 20;

void Prepare(const CallContext& call, grpc::ClientContext& context) {
  context.set_deadline(absl::ToChronoTime(call.deadline));
  if (!call.trace.request_id().empty()) call.trace.ChildSpan().AttachTo(&context);
}

// Who a backend call is made for, for its metrics and error messages.
struct CallSite {
  GatewayMetrics* metrics;
  const char* backend;
  const char* method;
  // "Bearer <token>" for storage, else empty.
  const std::string& authorization;
};

// Converts the outcome of a call, names the backend in the message (so that
// an HTTP client learns which service failed) and records it.
absl::Status Finish(const CallSite& site, absl::Time start, const grpc::Status& grpc_status) {
  absl::Status status = server::FromGrpcStatus(grpc_status);
  if (site.metrics != nullptr) {
    site.metrics->RecordBackendCall(site.backend, site.method,
                                    absl::StatusCodeToString(status.code()),
                                    absl::Now() - start);
  }
  if (status.ok()) return status;
  if (!site.authorization.empty() &&
      (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status))) {
    // Storage refusing the gateway's token is the gateway's fault, not the
    // HTTP client's: it must not surface as 401/403 to a person uploading.
    return absl::InternalError(absl::StrCat(
        "the ", site.backend, " service refused the gateway's credentials (check "
        "--storage_token_file or STACHE_STORAGE_TOKEN, and --storage_namespace): ",
        site.method, ": ", status.message()));
  }
  return absl::Status(status.code(),
                      absl::StrCat(site.backend, " ", site.method, ": ", status.message()));
}

// One unary call: deadline, metadata, status conversion and metrics around
// `invoke(context, response)`.
template <typename Response, typename Invoke>
absl::StatusOr<Response> Unary(const CallContext& call, const CallSite& site, Invoke invoke) {
  grpc::ClientContext context;
  Prepare(call, context);
  if (!site.authorization.empty()) context.AddMetadata("authorization", site.authorization);
  Response response;
  const absl::Time start = absl::Now();
  grpc::Status status = invoke(&context, &response);
  STACHE_RETURN_IF_ERROR(Finish(site, start, status));
  return response;
}

const std::string kNoAuthorization;

}  // namespace

DetectorClient::DetectorClient(
    std::unique_ptr<detector::v1::DetectorService::StubInterface> stub,
    GatewayMetrics* metrics)
    : stub_(std::move(stub)), metrics_(metrics) {}

absl::StatusOr<detector::v1::DetectResponse> DetectorClient::Detect(
    const CallContext& call, const detector::v1::DetectRequest& request) {
  return Unary<detector::v1::DetectResponse>(
      call, {metrics_, "detector", "Detect", kNoAuthorization},
      [&](grpc::ClientContext* context, detector::v1::DetectResponse* response) {
        return stub_->Detect(context, request, response);
      });
}

OverlayClient::OverlayClient(std::unique_ptr<overlay::v1::OverlayService::StubInterface> stub,
                             GatewayMetrics* metrics)
    : stub_(std::move(stub)), metrics_(metrics) {}

absl::StatusOr<overlay::v1::ApplyResponse> OverlayClient::Apply(
    const CallContext& call, const overlay::v1::ApplyRequest& request) {
  return Unary<overlay::v1::ApplyResponse>(
      call, {metrics_, "overlay", "Apply", kNoAuthorization},
      [&](grpc::ClientContext* context, overlay::v1::ApplyResponse* response) {
        return stub_->Apply(context, request, response);
      });
}

absl::StatusOr<overlay::v1::ListStylesResponse> OverlayClient::ListStyles(
    const CallContext& call) {
  return Unary<overlay::v1::ListStylesResponse>(
      call, {metrics_, "overlay", "ListStyles", kNoAuthorization},
      [&](grpc::ClientContext* context, overlay::v1::ListStylesResponse* response) {
        return stub_->ListStyles(context, overlay::v1::ListStylesRequest(), response);
      });
}

StorageClient::StorageClient(std::unique_ptr<storage::v1::StorageService::StubInterface> stub,
                             std::string storage_namespace, std::string bearer_token,
                             GatewayMetrics* metrics)
    : stub_(std::move(stub)),
      namespace_(std::move(storage_namespace)),
      authorization_(absl::StrCat("Bearer ", bearer_token)),
      metrics_(metrics) {}

absl::StatusOr<storage::v1::ObjectInfo> StorageClient::Put(
    const CallContext& call, const std::string& key, const std::string& content_type,
    const std::map<std::string, std::string>& labels, absl::string_view bytes) {
  grpc::ClientContext context;
  Prepare(call, context);
  context.AddMetadata("authorization", authorization_);
  storage::v1::PutResponse response;
  const absl::Time start = absl::Now();
  std::unique_ptr<grpc::ClientWriterInterface<storage::v1::PutRequest>> writer =
      stub_->Put(&context, &response);
  storage::v1::PutRequest header;
  storage::v1::PutHeader* fields = header.mutable_header();
  fields->set_namespace_(namespace_);
  fields->set_key(key);
  fields->set_content_type(content_type);
  fields->mutable_labels()->insert(labels.begin(), labels.end());
  fields->set_expected_size_bytes(bytes.size());
  // A failed Write means the server ended the call; Finish says why.
  bool open = writer->Write(header);
  for (size_t offset = 0; open && offset < bytes.size(); offset += kChunkBytes) {
    storage::v1::PutRequest chunk;
    chunk.set_chunk(std::string(bytes.substr(offset, kChunkBytes)));
    open = writer->Write(chunk);
  }
  if (open) writer->WritesDone();
  STACHE_RETURN_IF_ERROR(
      Finish({metrics_, "storage", "Put", authorization_}, start, writer->Finish()));
  return response.object();
}

absl::StatusOr<StoredObject> StorageClient::Get(const CallContext& call,
                                                const std::string& key, int64_t max_bytes) {
  grpc::ClientContext context;
  Prepare(call, context);
  context.AddMetadata("authorization", authorization_);
  storage::v1::GetRequest request;
  request.set_namespace_(namespace_);
  request.set_key(key);
  const absl::Time start = absl::Now();
  std::unique_ptr<grpc::ClientReaderInterface<storage::v1::GetResponse>> reader =
      stub_->Get(&context, request);
  StoredObject object;
  bool have_info = false;
  bool too_large = false;
  storage::v1::GetResponse part;
  while (!too_large && reader->Read(&part)) {
    if (part.has_object()) {
      object.info = part.object();
      have_info = true;
      too_large = object.info.size_bytes() > static_cast<uint64_t>(max_bytes);
      if (!too_large) object.bytes.reserve(object.info.size_bytes());
    } else {
      too_large = static_cast<int64_t>(object.bytes.size() + part.chunk().size()) > max_bytes;
      if (!too_large) object.bytes += part.chunk();
    }
  }
  if (too_large) {
    // Stop the stream instead of buffering an object we will refuse anyway.
    context.TryCancel();
    reader->Finish();
    return absl::ResourceExhaustedError(absl::StrCat(
        "storage Get ", key, ": object is larger than the limit of ", max_bytes, " bytes"));
  }
  STACHE_RETURN_IF_ERROR(
      Finish({metrics_, "storage", "Get", authorization_}, start, reader->Finish()));
  if (!have_info) {
    return absl::InternalError(absl::StrCat("storage Get ", key, ": no object metadata"));
  }
  if (object.bytes.size() != object.info.size_bytes()) {
    return absl::DataLossError(absl::StrCat("storage Get ", key, ": received ",
                                            object.bytes.size(), " of ",
                                            object.info.size_bytes(), " bytes"));
  }
  return object;
}

absl::StatusOr<storage::v1::ObjectInfo> StorageClient::Stat(const CallContext& call,
                                                            const std::string& key) {
  storage::v1::StatRequest request;
  request.set_namespace_(namespace_);
  request.set_key(key);
  STACHE_ASSIGN_OR_RETURN(
      storage::v1::StatResponse response,
      Unary<storage::v1::StatResponse>(
          call, {metrics_, "storage", "Stat", authorization_},
          [&](grpc::ClientContext* context, storage::v1::StatResponse* out) {
            return stub_->Stat(context, request, out);
          }));
  return response.object();
}

absl::StatusOr<storage::v1::ListResponse> StorageClient::List(const CallContext& call,
                                                              const std::string& key_prefix,
                                                              uint32_t page_size,
                                                              const std::string& page_token) {
  storage::v1::ListRequest request;
  request.set_namespace_(namespace_);
  request.set_key_prefix(key_prefix);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return Unary<storage::v1::ListResponse>(
      call, {metrics_, "storage", "List", authorization_},
      [&](grpc::ClientContext* context, storage::v1::ListResponse* response) {
        return stub_->List(context, request, response);
      });
}

absl::Status StorageClient::Delete(const CallContext& call, const std::string& key) {
  storage::v1::DeleteRequest request;
  request.set_namespace_(namespace_);
  request.set_key(key);
  return Unary<storage::v1::DeleteResponse>(
             call, {metrics_, "storage", "Delete", authorization_},
             [&](grpc::ClientContext* context, storage::v1::DeleteResponse* response) {
               return stub_->Delete(context, request, response);
             })
      .status();
}

BackendProbe::BackendProbe(std::unique_ptr<info::v1::InfoService::StubInterface> info,
                           std::unique_ptr<grpc::health::v1::Health::StubInterface> health)
    : info_(std::move(info)), health_(std::move(health)) {}

BackendProbe::BackendProbe(const std::shared_ptr<grpc::ChannelInterface>& channel)
    : BackendProbe(info::v1::InfoService::NewStub(channel),
                   grpc::health::v1::Health::NewStub(channel)) {}

absl::StatusOr<info::v1::GetInfoResponse> BackendProbe::GetInfo(const CallContext& call) {
  return Unary<info::v1::GetInfoResponse>(
      call, {nullptr, "info", "GetInfo", kNoAuthorization},
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
      Unary<HealthCheckResponse>(call, {nullptr, "health", "Check", kNoAuthorization},
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
    if (close == absl::string_view::npos || rest.substr(close + 1, 1) != ":") return {target};
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

}  // namespace stache::gateway
