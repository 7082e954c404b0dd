#include "storage/storage_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "server/call_handler.h"
#include "server/error_reason.h"
#include "server/grpc_metadata.h"
#include "server/log.h"
#include "server/status.h"
#include "server/tls.h"
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

// A Put message without the part it must carry: either none at all, or a
// oneof member this server does not know (a newer client's), which must not
// be stored as an empty chunk.
absl::Status PartError(const v1::PutRequest& request, absl::string_view what) {
  if (request.part_case() == v1::PutRequest::PART_NOT_SET &&
      !request.GetReflection()->GetUnknownFields(request).empty()) {
    return server::WithReason(
        absl::InvalidArgumentError(absl::StrCat(
            what, "; this message sets a field this server does not know (field ",
            request.GetReflection()->GetUnknownFields(request).field(0).number(),
            "), perhaps a newer client's part")),
        server::kReasonUnknownOneofMember);
  }
  return absl::InvalidArgumentError(what);
}

}  // namespace

absl::StatusOr<const Caller*> StorageServiceImpl::Authenticate(
    const grpc::ServerContextBase& context) const {
  return policy_->Authenticate(
      server::MetadataValue(context.client_metadata(), "authorization"),
      trust_client_certs_ ? server::VerifiedPeerNames(context)
                          : std::vector<std::string>{});
}

absl::Status StorageServiceImpl::Authorize(const grpc::ServerContextBase& context,
                                           absl::string_view ns, Access access) const {
  STACHE_ASSIGN_OR_RETURN(const Caller* caller, Authenticate(context));
  STACHE_RETURN_IF_ERROR(ValidateNamespace(ns));
  return NamespacePolicy::Authorize(*caller, ns, access);
}

absl::Status StorageServiceImpl::ForCaller(const grpc::ServerContextBase& context,
                                           absl::Status status, absl::string_view ns,
                                           absl::string_view key) const {
  // The caller's own mistakes say what was wrong in the caller's terms
  // (they name only what the caller sent); so do the limits.
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return status;
    default:
      break;
  }
  // What failed inside the backend (files, SQLite, S3, credentials) can
  // name paths, buckets and URLs of our own infrastructure: the log gets
  // them, the caller gets the kind of failure and the request id to quote.
  const std::string request_id =
      server::MetadataValue(context.client_metadata(), server::kRequestIdMetadata);
  const std::string object =
      key.empty() ? absl::StrCat("namespace \"", ns, "\"")
                  : absl::StrCat("\"", key, "\" in namespace \"", ns, "\"");
  if (status.code() == absl::StatusCode::kNotFound) {
    // A missing object, or a file of it missing underneath: both are "not
    // found" to the caller, and the object names only what they asked for.
    return key.empty() ? absl::NotFoundError(absl::StrCat("nothing found in ", object))
                       : ObjectNotFoundError(ns, key);
  }
  server::LogError("storage backend error", {{"request_id", request_id},
                                             {"namespace", std::string(ns)},
                                             {"key", std::string(key)},
                                             {"error", status.ToString()}});
  const std::string quote = absl::StrCat(" (request id ", request_id, ")");
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          absl::StrCat("the storage backend is unavailable right now; try again", quote));
    case absl::StatusCode::kDataLoss:
      return absl::DataLossError(absl::StrCat("the stored bytes of ", object,
                                              " are damaged or incomplete", quote));
    default:
      return absl::Status(status.code(),
                          absl::StrCat("the storage backend failed on ", object, quote));
  }
}

grpc::Status StorageServiceImpl::Put(grpc::ServerContext* context,
                                     grpc::ServerReader<v1::PutRequest>* reader,
                                     v1::PutResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    // The token comes first, from the call's metadata: an unknown caller
    // must not get the server to read (or wait for) a single message.
    STACHE_ASSIGN_OR_RETURN(const Caller* caller, Authenticate(*context));
    v1::PutRequest first;
    if (!reader->Read(&first)) {
      if (context->IsCancelled()) return absl::CancelledError("the upload was cancelled");
      return absl::InvalidArgumentError(
          "the first message of a Put must carry the header");
    }
    if (!first.has_header()) {
      return PartError(first, "the first message of a Put must carry the header");
    }
    const v1::PutHeader& header = first.header();
    STACHE_RETURN_IF_ERROR(ValidateNamespace(header.namespace_()));
    STACHE_RETURN_IF_ERROR(
        NamespacePolicy::Authorize(*caller, header.namespace_(), Access::kWrite));
    auto next_chunk = [&](std::string& chunk) -> absl::StatusOr<bool> {
      v1::PutRequest request;
      if (!reader->Read(&request)) {
        // A cancelled or broken upload also ends the stream; it must not be
        // stored as if it were complete.
        if (context->IsCancelled())
          return absl::CancelledError("the upload was cancelled");
        return false;
      }
      if (request.has_header()) {
        return absl::InvalidArgumentError(
            "only the first message of a Put may carry a header");
      }
      if (request.part_case() != v1::PutRequest::kChunk) {
        return PartError(request,
                         "every message of a Put after the first must carry a chunk");
      }
      chunk = std::move(*request.mutable_chunk());
      return true;
    };
    absl::StatusOr<ObjectInfo> info = store_->Put(FromProto(header), next_chunk);
    if (!info.ok()) {
      return ForCaller(*context, info.status(), header.namespace_(), header.key());
    }
    if (metrics_ != nullptr) metrics_->CountWritten(info->ns, info->size_bytes);
    ToProto(*info, response->mutable_object());
    return absl::OkStatus();
  });
}

grpc::Status StorageServiceImpl::Get(grpc::ServerContext* context,
                                     const v1::GetRequest* request,
                                     grpc::ServerWriter<v1::GetResponse>* writer) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    STACHE_RETURN_IF_ERROR(Authorize(*context, request->namespace_(), Access::kRead));
    auto write = [&](const v1::GetResponse& message) -> absl::Status {
      if (!writer->Write(message)) return absl::CancelledError("the client went away");
      return absl::OkStatus();
    };
    return ForCaller(*context,
                     store_->Get(
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
                           if (metrics_ != nullptr) {
                             metrics_->CountRead(request->namespace_(), chunk.size());
                           }
                           return absl::OkStatus();
                         }),
                     request->namespace_(), request->key());
  });
}

grpc::Status StorageServiceImpl::Stat(grpc::ServerContext* context,
                                      const v1::StatRequest* request,
                                      v1::StatResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    STACHE_RETURN_IF_ERROR(Authorize(*context, request->namespace_(), Access::kRead));
    absl::StatusOr<ObjectInfo> info = store_->Stat(request->namespace_(), request->key());
    if (!info.ok()) {
      return ForCaller(*context, info.status(), request->namespace_(), request->key());
    }
    ToProto(*info, response->mutable_object());
    return absl::OkStatus();
  });
}

grpc::Status StorageServiceImpl::List(grpc::ServerContext* context,
                                      const v1::ListRequest* request,
                                      v1::ListResponse* response) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    STACHE_RETURN_IF_ERROR(Authorize(*context, request->namespace_(), Access::kRead));
    // Any value above the maximum means the maximum (and may not fit an int).
    const int page_size = request->page_size() > static_cast<uint32_t>(kMaxPageSize)
                              ? kMaxPageSize
                              : static_cast<int>(request->page_size());
    absl::StatusOr<ListPage> page = store_->List({.ns = request->namespace_(),
                                                  .key_prefix = request->key_prefix(),
                                                  .page_size = page_size,
                                                  .page_token = request->page_token()});
    if (!page.ok()) return ForCaller(*context, page.status(), request->namespace_(), "");
    for (const ObjectInfo& info : page->objects) ToProto(info, response->add_objects());
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status StorageServiceImpl::Delete(grpc::ServerContext* context,
                                        const v1::DeleteRequest* request,
                                        v1::DeleteResponse* /*response*/) {
  return server::HandleCall(*context, [&]() -> absl::Status {
    STACHE_RETURN_IF_ERROR(Authorize(*context, request->namespace_(), Access::kWrite));
    return ForCaller(*context, store_->Delete(request->namespace_(), request->key()),
                     request->namespace_(), request->key());
  });
}

}  // namespace stache::storage
