// gRPC adapter for stache.detector.v1.DetectorService: translates protos to
// FaceDetector calls and absl::Status to grpc::Status, nothing else.
//
//   DetectorServiceImpl service(*detector, config.server.max_image_bytes,
//   &faces_counter); GrpcServer::Start(config.server, identity, {&service});
#ifndef STACHE_DETECTOR_DETECTOR_SERVICE_H_
#define STACHE_DETECTOR_DETECTOR_SERVICE_H_

#include <cstdint>

#include "detector/detector.h"
#include "server/metrics.h"
#include "stache/detector/v1/detector.grpc.pb.h"

namespace stache::detector {

// Thread-safe (FaceDetector is). Does not own the detector, which must
// outlive it.
class DetectorServiceImpl final : public stache::detector::v1::DetectorService::Service {
 public:
  // `faces_detected` (optional, not owned) counts the faces Detect returns.
  DetectorServiceImpl(const FaceDetector& detector, int64_t max_image_bytes,
                      server::Counter* faces_detected = nullptr)
      : detector_(detector),
        max_image_bytes_(max_image_bytes),
        faces_detected_(faces_detected) {}

  grpc::Status Detect(grpc::ServerContext* context,
                      const stache::detector::v1::DetectRequest* request,
                      stache::detector::v1::DetectResponse* response) override;

 private:
  const FaceDetector& detector_;
  const int64_t max_image_bytes_;
  server::Counter* const faces_detected_;
};

}  // namespace stache::detector

#endif  // STACHE_DETECTOR_DETECTOR_SERVICE_H_
