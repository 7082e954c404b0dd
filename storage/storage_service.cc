#include "storage/storage_service.h"

#include <google/protobuf/util/time_util.h>

#include "server/request_context.h"
#include "server/status.h"
#include "storage/object_key.h"

namespace stache::storage {
namespace {

using ::google::protobuf::util::TimeUtil;
using server::ToGrpcStatus;

void ToProto(const ObjectInfo& info, v1::ObjectInfo* proto) {
  proto->set_namespace_(info.ns);
  proto->set_key(info.key);
  proto->set_content_type(info.content_type);
  proto->set_size_bytes(info.size_bytes);
  proto->set_sha256_hex(info.sha256_hex);
  *proto->mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(info.create_time));
  proto->mutable_labels()->insert(info.labels.begin(), info.labels.end());
}

ObjectHeader FromProto(const v1::PutHeader& header) {
  ObjectHeader result{.ns = header.namespace_(),
                      .key = header.key(),
                      .content_type = header.content_type(),
                      .labels = {header.labels().begin(), header.labels().end()},
                      .expected_sha256_hex = header.expected_sha256_hex()};
  // proto3 cannot tell 0 from unset; an expected size of 0 is "unchecked".
  if (header.expected_size_bytes() > 0)
    result.expected_size_bytes = header.expected_size_bytes();
  return result;
}

}  // namespace

absl::Status StorageServiceImpl::Authorize(const grpc::ServerContext& context,
                                           absl::string_view ns, Access access) const {
  STACHE_ASSIGN_OR_RETURN(const Caller* caller,
                          policy_->Authenticate(server::MetadataValue(
                              context.client_metadata(), "authorization")));
  STACHE_RETURN_IF_ERROR(ValidateNamespace(ns));
  return NamespacePolicy::Authorize(*caller, ns, access);
}

grpc::Status StorageServiceImpl::Put(grpc::ServerContext* context,
                                     grpc::ServerReader<v1::PutRequest>* reader,
                                     v1::PutResponse* response) {
  v1::PutRequest first;
  if (!reader->Read(&first) || !first.has_header()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the first message of a Put must carry the header"));
  }
  const v1::PutHeader& header = first.header();
  if (absl::Status status = Authorize(*context, header.namespace_(), Access::kWrite);
      !status.ok()) {
    return ToGrpcStatus(status);
  }
  auto next_chunk = [&](std::string& chunk) -> absl::StatusOr<bool> {
    v1::PutRequest request;
    if (!reader->Read(&request)) {
      // A cancelled or broken upload also ends the stream; it must not be
      // stored as if it were complete.
      if (context->IsCancelled()) return absl::CancelledError("the upload was cancelled");
      return false;
    }
    if (request.has_header()) {
      return absl::InvalidArgumentError(
          "only the first message of a Put may carry a header");
    }
    chunk = std::move(*request.mutable_chunk());
    return true;
  };
  absl::StatusOr<ObjectInfo> info = store_->Put(FromProto(header), next_chunk);
  if (!info.ok()) return ToGrpcStatus(info.status());
  if (metrics_ != nullptr) metrics_->CountWritten(info->ns, info->size_bytes);
  ToProto(*info, response->mutable_object());
  return grpc::Status::OK;
}

grpc::Status StorageServiceImpl::Get(grpc::ServerContext* context,
                                     const v1::GetRequest* request,
                                     grpc::ServerWriter<v1::GetResponse>* writer) {
  if (absl::Status status = Authorize(*context, request->namespace_(), Access::kRead);
      !status.ok()) {
    return ToGrpcStatus(status);
  }
  auto write = [&](const v1::GetResponse& message) -> absl::Status {
    if (!writer->Write(message)) return absl::CancelledError("the client went away");
    return absl::OkStatus();
  };
  return ToGrpcStatus(store_->Get(
      request->namespace_(), request->key(),
      [&](const ObjectInfo& info) {
        v1::GetResponse message;
        ToProto(info, message.mutable_object());
        return write(message);
      },
      [&](absl::string_view chunk) {
        v1::GetResponse message;
        message.set_chunk(std::string(chunk));
        STACHE_RETURN_IF_ERROR(write(message));
        if (metrics_ != nullptr) metrics_->CountRead(request->namespace_(), chunk.size());
        return absl::OkStatus();
      }));
}

grpc::Status StorageServiceImpl::Stat(grpc::ServerContext* context,
                                      const v1::StatRequest* request,
                                      v1::StatResponse* response) {
  if (absl::Status status = Authorize(*context, request->namespace_(), Access::kRead);
      !status.ok()) {
    return ToGrpcStatus(status);
  }
  absl::StatusOr<ObjectInfo> info = store_->Stat(request->namespace_(), request->key());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToProto(*info, response->mutable_object());
  return grpc::Status::OK;
}

grpc::Status StorageServiceImpl::List(grpc::ServerContext* context,
                                      const v1::ListRequest* request,
                                      v1::ListResponse* response) {
  if (absl::Status status = Authorize(*context, request->namespace_(), Access::kRead);
      !status.ok()) {
    return ToGrpcStatus(status);
  }
  // Any value above the maximum means the maximum (and may not fit an int).
  const int page_size = request->page_size() > static_cast<uint32_t>(kMaxPageSize)
                            ? kMaxPageSize
                            : static_cast<int>(request->page_size());
  absl::StatusOr<ListPage> page = store_->List({.ns = request->namespace_(),
                                                .key_prefix = request->key_prefix(),
                                                .page_size = page_size,
                                                .page_token = request->page_token()});
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const ObjectInfo& info : page->objects) ToProto(info, response->add_objects());
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status StorageServiceImpl::Delete(grpc::ServerContext* context,
                                        const v1::DeleteRequest* request,
                                        v1::DeleteResponse* /*response*/) {
  if (absl::Status status = Authorize(*context, request->namespace_(), Access::kWrite);
      !status.ok()) {
    return ToGrpcStatus(status);
  }
  return ToGrpcStatus(store_->Delete(request->namespace_(), request->key()));
}

}  // namespace stache::storage
