#include "server/grpc_metadata.h"

namespace stache::server {

std::string MetadataValue(const ReceivedMetadata& metadata, absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

RequestContext RequestContextFromMetadata(const ReceivedMetadata& metadata) {
  return RequestContext::FromIncoming(MetadataValue(metadata, kRequestIdMetadata),
                                      MetadataValue(metadata, kTraceparentMetadata));
}

void AttachRequestContext(const RequestContext& request_context,
                          grpc::ClientContext* context) {
  if (!request_context.request_id().empty())
    context->AddMetadata(kRequestIdMetadata, request_context.request_id());
  if (!request_context.traceparent().empty())
    context->AddMetadata(kTraceparentMetadata, request_context.traceparent());
}

}  // namespace stache::server
