#include "storage/storage_client.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/status.h"
#include "storage/internal/sha256.h"

namespace stache::storage {

using server::FromGrpcStatus;

namespace {

// Get, Stat and Delete requests name one object.
template <typename Request>
Request ObjectRequest(absl::string_view ns, absl::string_view key) {
  Request request;
  request.set_namespace_(std::string(ns));
  request.set_key(std::string(key));
  return request;
}

}  // namespace

StorageClient::StorageClient(std::shared_ptr<v1::StorageService::StubInterface> stub,
                             StorageClientOptions options)
    : stub_(std::move(stub)), options_(std::move(options)) {}

void StorageClient::Prepare(const CallOptions& call, grpc::ClientContext& context) const {
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
  context.set_deadline(
      absl::ToChronoTime(call.deadline.value_or(absl::Now() + options_.timeout)));
  if (call.prepare) call.prepare(context);
}

absl::StatusOr<v1::ObjectInfo> StorageClient::PutObject(const ObjectToPut& object,
                                                        absl::string_view bytes,
                                                        const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, context);
  v1::PutResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::PutRequest>> writer =
      stub_->Put(&context, &response);
  v1::PutRequest request;
  v1::PutHeader& header = *request.mutable_header();
  header.set_namespace_(object.ns);
  header.set_key(object.key);
  header.set_content_type(object.content_type);
  header.mutable_labels()->insert(object.labels.begin(), object.labels.end());
  header.set_expected_size_bytes(bytes.size());
  header.set_expected_sha256_hex(internal::Sha256Hex(bytes));
  bool open = writer->Write(request);
  const size_t chunk_bytes = std::max<size_t>(options_.chunk_bytes, 1);
  for (size_t offset = 0; open && offset < bytes.size(); offset += chunk_bytes) {
    v1::PutRequest chunk;
    chunk.set_chunk(std::string(bytes.substr(offset, chunk_bytes)));
    open = writer->Write(chunk);
  }
  // When a write fails the server has already answered; Finish tells why.
  writer->WritesDone();
  STACHE_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return std::move(*response.mutable_object());
}

absl::StatusOr<StoredObject> StorageClient::GetObject(absl::string_view ns,
                                                      absl::string_view key,
                                                      const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, context);
  const auto request = ObjectRequest<v1::GetRequest>(ns, key);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GetResponse>> reader =
      stub_->Get(&context, request);
  StoredObject object;
  bool has_info = false;
  bool too_large = false;
  v1::GetResponse response;
  while (!too_large && reader->Read(&response)) {
    if (response.has_object()) {
      object.info = std::move(*response.mutable_object());
      has_info = true;
      too_large = object.info.size_bytes() > call.max_bytes;
      if (!too_large) object.bytes.reserve(object.info.size_bytes());
    } else {
      too_large = object.bytes.size() + response.chunk().size() > call.max_bytes;
      if (!too_large) object.bytes.append(response.chunk());
    }
  }
  if (too_large) {
    // Stop the stream instead of receiving an object the caller refuses.
    context.TryCancel();
    reader->Finish();
    return absl::ResourceExhaustedError(absl::StrCat(
        "\"", key, "\" is larger than the limit of ", call.max_bytes, " bytes"));
  }
  STACHE_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  if (!has_info)
    return absl::InternalError("storage sent an object without its metadata");
  if (internal::Sha256Hex(object.bytes) != object.info.sha256_hex()) {
    return absl::DataLossError(
        absl::StrCat("the bytes of \"", key, "\" do not match their SHA-256"));
  }
  return object;
}

absl::StatusOr<v1::ObjectInfo> StorageClient::StatObject(absl::string_view ns,
                                                         absl::string_view key,
                                                         const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, context);
  const auto request = ObjectRequest<v1::StatRequest>(ns, key);
  v1::StatResponse response;
  STACHE_RETURN_IF_ERROR(FromGrpcStatus(stub_->Stat(&context, request, &response)));
  return std::move(*response.mutable_object());
}

absl::StatusOr<v1::ListResponse> StorageClient::ListObjects(absl::string_view ns,
                                                            absl::string_view key_prefix,
                                                            uint32_t page_size,
                                                            absl::string_view page_token,
                                                            const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, context);
  v1::ListRequest request;
  request.set_namespace_(std::string(ns));
  request.set_key_prefix(std::string(key_prefix));
  request.set_page_size(page_size);
  request.set_page_token(std::string(page_token));
  v1::ListResponse response;
  STACHE_RETURN_IF_ERROR(FromGrpcStatus(stub_->List(&context, request, &response)));
  return response;
}

absl::Status StorageClient::DeleteObject(absl::string_view ns, absl::string_view key,
                                         const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, context);
  const auto request = ObjectRequest<v1::DeleteRequest>(ns, key);
  v1::DeleteResponse response;
  return FromGrpcStatus(stub_->Delete(&context, request, &response));
}

}  // namespace stache::storage
