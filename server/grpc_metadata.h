// gRPC's side of a RequestContext (server/request_context.h): reading it, and
// other values, from a call's metadata, and attaching it to an outgoing call.
//
//   RequestContext request = RequestContextFromMetadata(context->client_metadata());
//   AttachRequestContext(request.ChildSpan(), &client_context);  // calling onwards
#ifndef STACHE_SERVER_GRPC_METADATA_H_
#define STACHE_SERVER_GRPC_METADATA_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "server/request_context.h"

namespace stache::server {

// A call's received metadata, as ServerContext::client_metadata() and
// server interceptors see it.
using ReceivedMetadata = std::multimap<grpc::string_ref, grpc::string_ref>;

// The value of `key` in `metadata`; "" when absent.
std::string MetadataValue(const ReceivedMetadata& metadata, absl::string_view key);

// RequestContext::FromIncoming over the "x-request-id" and "traceparent"
// metadata.
RequestContext RequestContextFromMetadata(const ReceivedMetadata& metadata);

// Adds the request id and traceparent (those not empty) as metadata of an
// outgoing call.
void AttachRequestContext(const RequestContext& request_context,
                          grpc::ClientContext* context);

}  // namespace stache::server

#endif  // STACHE_SERVER_GRPC_METADATA_H_
