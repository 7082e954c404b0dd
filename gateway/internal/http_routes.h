// The REST API (/v1/...), the web page, health, readiness and metrics as
// functions from a plain HttpRequest to a plain HttpResponse. Handlers only
// translate: HTTP in, Gallery / StatusBoard calls, HTTP out; errors go
// through the one gRPC-to-HTTP table in http_errors.h. The transport
// (gateway/http_server.cc) reads requests, calls Handle on a worker thread
// and writes what it returns.
//
//   HttpRoutes routes(&gallery, &board, &metrics);
//   HttpResponse response = routes.Handle(request, &form);
#ifndef STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_
#define STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "gateway/gallery.h"
#include "gateway/internal/http_message.h"
#include "gateway/internal/upload_body.h"
#include "gateway/metrics.h"
#include "gateway/status_board.h"
#include "server/request_context.h"

namespace stache::gateway::internal {

// Thread-safe; the gallery, board and metrics must outlive it.
class HttpRoutes final {
 public:
  HttpRoutes(Gallery* gallery, StatusBoard* board, GatewayMetrics* metrics);

  // True for the one route whose body is read: POST /v1/images.
  static bool IsUpload(const HttpRequest& request);

  // The answer to a complete request; `upload` is the form read from the
  // body of an IsUpload request (null otherwise). Never throws: any
  // exception becomes 500 with the request id.
  HttpResponse Handle(const HttpRequest& request, UploadForm* upload);

  // The answer to a request the transport refused (limits, malformed,
  // timeouts, a body refused while read): the same JSON error shape,
  // request id, metrics and log as any other answer. `request` may hold only
  // what was read of it. The connection closes after it.
  HttpResponse Refuse(const HttpRequest& request, const HttpRefusal& refusal);

  // /readyz answers 503 from now on; requests are still served.
  void StartDraining() { draining_ = true; }

  // For tests of the last-resort catch: called at the start of every
  // handler (after routing).
  void SetHandlerHookForTest(std::function<void(const HttpRequest&)> hook) {
    hook_ = std::move(hook);
  }

 private:
  // Request id, metrics, access log and the last-resort catch around `run`.
  HttpResponse Instrument(const char* route, const HttpRequest& request,
                          const std::function<void(const server::RequestContext&,
                                                   HttpResponse&)>& run);
  void Route(const HttpRequest& request, UploadForm* upload, const char** route,
             std::function<void(const server::RequestContext&, HttpResponse&)>* run);

  void Upload(const HttpRequest& request, UploadForm& form, HttpResponse& response,
              const server::RequestContext& trace);
  void GetRecord(const std::string& id, HttpResponse& response,
                 const server::RequestContext& trace);
  void GetImage(const HttpRequest& request, const std::string& id, ImageVariant variant,
                HttpResponse& response, const server::RequestContext& trace);
  void Delete(const std::string& id, HttpResponse& response,
              const server::RequestContext& trace);
  void List(const HttpRequest& request, HttpResponse& response,
            const server::RequestContext& trace);
  void Styles(HttpResponse& response, const server::RequestContext& trace);
  void Info(HttpResponse& response, const server::RequestContext& trace);
  void Ready(HttpResponse& response, const server::RequestContext& trace);
  void Asset(const HttpRequest& request, HttpResponse& response);

  Gallery* const gallery_;
  StatusBoard* const board_;
  GatewayMetrics* const metrics_;
  std::atomic<bool> draining_ = false;
  std::function<void(const HttpRequest&)> hook_;
};

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_
