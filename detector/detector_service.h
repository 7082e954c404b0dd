// gRPC adapter for stache.detector.v1.DetectorService.
//
//   DetectorServiceImpl service;
//   GrpcServer::Start(config, identity, {&service});
#ifndef STACHE_DETECTOR_DETECTOR_SERVICE_H_
#define STACHE_DETECTOR_DETECTOR_SERVICE_H_

#include "stache/detector/v1/detector.grpc.pb.h"

namespace stache::detector {

// TODO(#3): every RPC answers UNIMPLEMENTED until the service lands.
class DetectorServiceImpl final : public stache::detector::v1::DetectorService::Service {};

}  // namespace stache::detector

#endif  // STACHE_DETECTOR_DETECTOR_SERVICE_H_
