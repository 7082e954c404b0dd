// gRPC adapter for stache.storage.v1.StorageService: checks the caller's
// bearer token, or its verified client certificate, against the
// NamespacePolicy (before any message is read), translates protos to BlobStore calls and
// absl::Status to grpc::Status, with backend failures told in words that
// name nothing of our infrastructure. No storage logic lives here.
//
//   StorageServiceImpl service(store.get(), &policy, &metrics);
//   GrpcServer::Start(config, identity, {&service});
#ifndef STACHE_STORAGE_STORAGE_SERVICE_H_
#define STACHE_STORAGE_STORAGE_SERVICE_H_

#include "stache/storage/v1/storage.grpc.pb.h"
#include "storage/blob_store.h"
#include "storage/namespace_policy.h"
#include "storage/storage_metrics.h"

namespace stache::storage {

// Does not own the store, the policy or the metrics (optional), which must
// outlive it. Thread-safe.
class StorageServiceImpl final : public stache::storage::v1::StorageService::Service {
 public:
  // `trust_client_certs`: the server requires and verifies client
  // certificates (--tls_require_client_cert with --tls_ca), so their names
  // may authenticate callers; otherwise only tokens do.
  StorageServiceImpl(BlobStore* store, const NamespacePolicy* policy,
                     StorageMetrics* metrics = nullptr, bool trust_client_certs = false)
      : store_(store),
        policy_(policy),
        metrics_(metrics),
        trust_client_certs_(trust_client_certs) {}

  grpc::Status Put(grpc::ServerContext* context,
                   grpc::ServerReader<v1::PutRequest>* reader,
                   v1::PutResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request,
                   grpc::ServerWriter<v1::GetResponse>* writer) override;
  grpc::Status Stat(grpc::ServerContext* context, const v1::StatRequest* request,
                    v1::StatResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request,
                    v1::ListResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;

 private:
  // UNAUTHENTICATED unless the call carries a known bearer token, or (with
  // trust_client_certs) a verified client certificate the policy names.
  absl::StatusOr<const Caller*> Authenticate(
      const grpc::ServerContextBase& context) const;
  // UNAUTHENTICATED, INVALID_ARGUMENT (bad namespace) or PERMISSION_DENIED.
  absl::Status Authorize(const grpc::ServerContextBase& context, absl::string_view ns,
                         Access access) const;
  // `status` from the store as the caller may see it: the caller's own
  // mistakes and the limits unchanged; backend failures (whose messages can
  // name paths, buckets, URLs) logged with the request id and replaced by
  // what failed in plain words. `key` is empty for List.
  absl::Status ForCaller(const grpc::ServerContextBase& context, absl::Status status,
                         absl::string_view ns, absl::string_view key) const;

  BlobStore* const store_;
  const NamespacePolicy* const policy_;
  StorageMetrics* const metrics_;
  const bool trust_client_certs_;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_SERVICE_H_
