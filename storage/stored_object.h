// An object read back from storage: its metadata and its bytes. A plain value
// over the storage API's own message, with no gRPC, so that callers' core
// libraries (the gateway's) can hold one; header only.
#ifndef STACHE_STORAGE_STORED_OBJECT_H_
#define STACHE_STORAGE_STORED_OBJECT_H_

#include <string>

#include "stache/storage/v1/storage.pb.h"

namespace stache::storage {

struct StoredObject {
  v1::ObjectInfo info;
  std::string bytes;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORED_OBJECT_H_
