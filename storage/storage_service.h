// gRPC adapter for stache.storage.v1.StorageService: checks the caller's
// bearer token against the NamespacePolicy, translates protos to BlobStore
// calls and absl::Status to grpc::Status. No storage logic lives here.
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
  StorageServiceImpl(BlobStore* store, const NamespacePolicy* policy,
                     StorageMetrics* metrics = nullptr)
      : store_(store), policy_(policy), metrics_(metrics) {}

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
  // UNAUTHENTICATED, INVALID_ARGUMENT (bad namespace) or PERMISSION_DENIED.
  absl::Status Authorize(const grpc::ServerContext& context, absl::string_view ns,
                         Access access) const;

  BlobStore* const store_;
  const NamespacePolicy* const policy_;
  StorageMetrics* const metrics_;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_SERVICE_H_
