// The client of stache.storage.v1.StorageService for other services (the
// gateway) and tests: whole objects in and out as bytes, chunked on the
// wire, with the bearer token attached and the SHA-256 checked both ways.
// Its own library (stache::storage_client), so that a caller links none of
// the storage backends.
//
//   auto channel = server::MakeChannel("localhost:50053", max_image_bytes);
//   StorageClient storage(v1::StorageService::NewStub(channel),
//                         {.token = token_from_env_or_file});
//   STACHE_ASSIGN_OR_RETURN(v1::ObjectInfo info, storage.PutObject(
//       {.ns = "gateway", .key = "originals/42.jpg", .content_type = "image/jpeg"},
//       bytes));
//   STACHE_ASSIGN_OR_RETURN(StoredObject object, storage.GetObject("gateway",
//   "originals/42.jpg"));
#ifndef STACHE_STORAGE_STORAGE_CLIENT_H_
#define STACHE_STORAGE_STORAGE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "stache/storage/v1/storage.grpc.pb.h"
#include "storage/blob_store.h"  // kChunkBytes
#include "storage/development_token.h"
#include "storage/stored_object.h"

namespace stache::storage {

// What PutObject stores besides the bytes.
struct ObjectToPut {
  std::string ns;
  std::string key;
  std::string content_type;
  std::map<std::string, std::string> labels;
};

// How one call is made; the defaults suit a call made for no request.
struct CallOptions {
  // Absolute deadline; unset: StorageClientOptions::timeout from now.
  std::optional<absl::Time> deadline;
  // Runs on the call's context before the call starts, e.g. to attach a
  // request id and trace context (server::AttachRequestContext).
  std::function<void(grpc::ClientContext&)> prepare;
  // GetObject: RESOURCE_EXHAUSTED, and the transfer stopped, as soon as the
  // object turns out to be larger.
  uint64_t max_bytes = std::numeric_limits<uint64_t>::max();
};

struct StorageClientOptions {
  // Sent as "authorization: Bearer <token>". The default is the storage
  // service's development default; configure a real one in production.
  // Empty: no token, for a caller that storage knows by its client
  // certificate (mutual TLS, "client_cert" in the policy).
  std::string token = kDevelopmentToken;
  size_t chunk_bytes = kChunkBytes;
  // Deadline of each call that sets none in its CallOptions.
  absl::Duration timeout = absl::Seconds(30);
};

// Thread-safe (the stub is). Errors are the service's gRPC status as
// absl::Status (NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...).
class StorageClient final {
 public:
  StorageClient(std::shared_ptr<v1::StorageService::StubInterface> stub,
                StorageClientOptions options = {});

  // Stores `bytes` (replacing any object under the key). The size and
  // SHA-256 are sent along, so nothing is stored if the bytes arrive damaged.
  absl::StatusOr<v1::ObjectInfo> PutObject(const ObjectToPut& object,
                                           absl::string_view bytes,
                                           const CallOptions& call = {});
  // The whole object; DATA_LOSS if its bytes do not match its SHA-256.
  absl::StatusOr<StoredObject> GetObject(absl::string_view ns, absl::string_view key,
                                         const CallOptions& call = {});
  absl::StatusOr<v1::ObjectInfo> StatObject(absl::string_view ns, absl::string_view key,
                                            const CallOptions& call = {});
  // One page, newest first; pass next_page_token back for the next one.
  absl::StatusOr<v1::ListResponse> ListObjects(absl::string_view ns,
                                               absl::string_view key_prefix,
                                               uint32_t page_size = 0,
                                               absl::string_view page_token = "",
                                               const CallOptions& call = {});
  absl::Status DeleteObject(absl::string_view ns, absl::string_view key,
                            const CallOptions& call = {});

 private:
  void Prepare(const CallOptions& call, grpc::ClientContext& context) const;

  const std::shared_ptr<v1::StorageService::StubInterface> stub_;
  const StorageClientOptions options_;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_CLIENT_H_
