// The REST API (/v1/...), the web page, health and readiness as functions
// from a plain HttpRequest to a plain HttpResponse. Handlers only translate:
// HTTP in, Gallery / StatusBoard calls, HTTP out; errors go through the one
// gRPC-to-HTTP table in http_errors.h. Around them: the visitor's session
// cookie (issued on the first visit), the CSRF rule (a state-changing
// request counts its cookie only with the X-Stache-Client header, which a
// cross-site form cannot send) and the upload rate limit. The transport
// (gateway/http_server.cc) reads requests, calls Handle on a worker thread
// and writes what it returns.
//
//   HttpRoutes routes(&gallery, &board, &metrics, {.sessions = &signer});
//   HttpResponse response = routes.Handle(request, &form);
#ifndef STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_
#define STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gateway/gallery.h"
#include "gateway/http_server.h"
#include "gateway/internal/http_message.h"
#include "gateway/internal/upload_body.h"
#include "gateway/metrics.h"
#include "gateway/status_board.h"
#include "server/request_context.h"

namespace stache::gateway::internal {

// The cookie that carries the session (SessionSigner's value).
inline constexpr char kSessionCookie[] = "stache_session";
// The header the page sends with its state-changing requests.
inline constexpr char kClientHeader[] = "X-Stache-Client";

// Thread-safe; the gallery, board, metrics and what `guards` points to
// must outlive it.
class HttpRoutes final {
 public:
  HttpRoutes(Gallery* gallery, StatusBoard* board, GatewayMetrics* metrics,
             VisitorGuards guards = {});

  // True for the one route whose body is read: POST /v1/images.
  static bool IsUpload(const HttpRequest& request);

  // Called with the head of an IsUpload request before its body is read:
  // a refusal (429 over the client's rate, 403 for a cookie without the
  // client header) saves reading it. Takes a token from the client's
  // bucket when it admits.
  std::optional<HttpRefusal> AdmitUpload(const HttpRequest& request);

  // The answer to a complete request; `upload` is the form read from the
  // body of an IsUpload request (null otherwise). Never throws: any
  // exception becomes 500 with the request id.
  HttpResponse Handle(const HttpRequest& request, UploadForm* upload);

  // The answer to a request the transport refused (limits, malformed,
  // timeouts, a body refused while read): the same JSON error shape,
  // request id, metrics and log as any other answer. `request` may hold only
  // what was read of it. The connection closes after it.
  HttpResponse Refuse(const HttpRequest& request, const HttpRefusal& refusal);

  // /readyz and /livez answer 503 from now on; requests are still served.
  void StartDraining() { draining_ = true; }

  // For tests of the last-resort catch: called at the start of every
  // handler (after routing).
  void SetHandlerHookForTest(std::function<void(const HttpRequest&)> hook) {
    hook_ = std::move(hook);
  }

 private:
  // Who is asking, from the request's cookie and headers.
  struct Visitor {
    // The session of a valid cookie, or a new one (set_cookie) when there
    // was none and the route starts sessions.
    std::optional<Session> session;
    bool had_valid_cookie = false;
    bool set_cookie = false;
    // The request carries kClientHeader (sent by the page).
    bool from_page = false;
    // Came over HTTPS to a trusted proxy: the cookie gets Secure.
    bool https = false;
  };

  // Request id, metrics, access log and the last-resort catch around `run`.
  HttpResponse Instrument(
      const char* route, const HttpRequest& request,
      const std::function<void(const server::RequestContext&, HttpResponse&)>& run);
  void Route(const HttpRequest& request, UploadForm* upload, const Visitor& visitor,
             const char** route,
             std::function<void(const server::RequestContext&, HttpResponse&)>* run);

  Visitor Identify(const HttpRequest& request, bool start_session) const;
  // The session may authorise a state change: not a possible cross-site
  // forgery.
  static bool SessionCounts(const Visitor& visitor) {
    return visitor.session.has_value() && visitor.from_page;
  }
  std::optional<HttpRefusal> CheckCsrf(const Visitor& visitor) const;
  std::string SetCookieValue(const Visitor& visitor) const;

  void Upload(const HttpRequest& request, UploadForm& form, const Visitor& visitor,
              HttpResponse& response, const server::RequestContext& request_context);
  void GetRecord(const std::string& id, HttpResponse& response,
                 const server::RequestContext& request_context);
  void GetImage(const HttpRequest& request, const std::string& id, ImageVariant variant,
                HttpResponse& response, const server::RequestContext& request_context);
  void Delete(const HttpRequest& request, const std::string& id, const Visitor& visitor,
              HttpResponse& response, const server::RequestContext& request_context);
  void List(const HttpRequest& request, const Visitor& visitor, HttpResponse& response,
            const server::RequestContext& request_context);
  void Styles(HttpResponse& response, const server::RequestContext& request_context);
  void Info(HttpResponse& response, const server::RequestContext& request_context);
  void Ready(HttpResponse& response, const server::RequestContext& request_context);
  void Asset(const HttpRequest& request, HttpResponse& response);

  Gallery* const gallery_;
  StatusBoard* const board_;
  GatewayMetrics* const metrics_;
  const VisitorGuards guards_;
  std::atomic<bool> draining_ = false;
  std::function<void(const HttpRequest&)> hook_;
};

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_HTTP_ROUTES_H_
