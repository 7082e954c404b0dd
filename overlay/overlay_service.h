// gRPC adapter for stache.overlay.v1.OverlayService: translates protos to
// MustacheOverlay calls and Status to grpc::Status, nothing else.
//
//   OverlayServiceImpl service(*overlay);
//   GrpcServer::Start(config, identity, {&service});
#ifndef STACHE_OVERLAY_OVERLAY_SERVICE_H_
#define STACHE_OVERLAY_OVERLAY_SERVICE_H_

#include "overlay/mustache_overlay.h"
#include "server/metrics.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"

namespace stache::overlay {

// Does not own the overlay or the counter, which must outlive it.
// Thread-safe: it holds no state of its own, MustacheOverlay is immutable
// and Counter is thread-safe.
class OverlayServiceImpl final : public stache::overlay::v1::OverlayService::Service {
 public:
  // `applied`, when given, counts successful Apply calls by OverlayPath
  // (one label, "path": "pixels" or "jpeg_coefficients").
  explicit OverlayServiceImpl(const MustacheOverlay& overlay,
                              server::Counter* applied = nullptr)
      : overlay_(overlay), applied_(applied) {}

  grpc::Status Apply(grpc::ServerContext* context, const v1::ApplyRequest* request,
                     v1::ApplyResponse* response) override;
  grpc::Status ListStyles(grpc::ServerContext* context,
                          const v1::ListStylesRequest* request,
                          v1::ListStylesResponse* response) override;

 private:
  const MustacheOverlay& overlay_;
  server::Counter* const applied_;
};

}  // namespace stache::overlay

#endif  // STACHE_OVERLAY_OVERLAY_SERVICE_H_
