// gRPC adapter for stache.storage.v1.StorageService.
//
//   StorageServiceImpl service;
//   GrpcServer::Start(config, identity, {&service});
#ifndef STACHE_STORAGE_STORAGE_SERVICE_H_
#define STACHE_STORAGE_STORAGE_SERVICE_H_

#include "stache/storage/v1/storage.grpc.pb.h"

namespace stache::storage {

// TODO(#5): every RPC answers UNIMPLEMENTED until the service lands.
class StorageServiceImpl final : public stache::storage::v1::StorageService::Service {};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_SERVICE_H_
