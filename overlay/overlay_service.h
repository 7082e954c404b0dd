// gRPC adapter for stache.overlay.v1.OverlayService.
//
//   OverlayServiceImpl service;
//   GrpcServer::Start(config, identity, {&service});
#ifndef STACHE_OVERLAY_OVERLAY_SERVICE_H_
#define STACHE_OVERLAY_OVERLAY_SERVICE_H_

#include "stache/overlay/v1/overlay.grpc.pb.h"

namespace stache::overlay {

// TODO(#4): every RPC answers UNIMPLEMENTED until the service lands.
class OverlayServiceImpl final : public stache::overlay::v1::OverlayService::Service {};

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_OVERLAY_SERVICE_H_
