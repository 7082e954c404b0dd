#include "gateway/internal/http_routes.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/client_address.h"
#include "gateway/http_errors.h"
#include "gateway/image_record.h"
#include "gateway/web_assets.h"
#include "server/log.h"
#include "server/loopback.h"

namespace stache::gateway::internal {
namespace {

using ::nlohmann::json;

constexpr char kJson[] = "application/json";
// Stored images never change (a new upload gets a new id) but can be
// deleted: a cache may keep one, yet must ask again (a cheap conditional
// request, answered 304 from a Stat) before each use, so that a deleted
// photo stops being served at once, by browsers and shared caches alike. A
// year-long "immutable" would keep serving it after its owner deleted it.
constexpr char kImageCaching[] = "public, no-cache";
// Whatever is not the page (JSON, images) runs nothing, embeds nothing and
// is framed by nobody, even if a browser were tricked into rendering it.
constexpr char kDataContentSecurityPolicy[] =
    "default-src 'none'; frame-ancestors 'none'; sandbox";
// The page only loads its own files: no CDN, nothing from elsewhere.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'";

void WriteJson(HttpResponse& response, int http_status, const json& body) {
  response.status = http_status;
  // Messages may quote what a client sent; invalid UTF-8 must not throw.
  response.SetContent(body.dump(-1, ' ', false, json::error_handler_t::replace), kJson);
}

void WriteError(HttpResponse& response, int http_status, const absl::Status& status,
                const server::RequestContext& request_context,
                absl::Duration retry_after = absl::ZeroDuration()) {
  // Shed load (429) and unavailable backends (503) are worth retrying soon:
  // say when, so that well-behaved clients back off instead of hammering.
  if (http_status == 429 || http_status == 503) {
    response.SetHeader(
        "Retry-After",
        absl::StrCat(std::max<int64_t>(
            1, absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1))))));
  }
  if (http_status >= 500) {
    // The body says less than this (PublicErrorMessage); operators read it
    // here, by the request id the client was given.
    server::LogWarning("request failed",
                       request_context.WithLogFields(
                           {{"http_status", http_status}, {"error", status.ToString()}}));
  }
  WriteJson(response, http_status,
            ErrorBody(http_status, status, request_context.request_id()));
}

// The table decides; only HTTP-level problems pass their own status.
void WriteStatus(HttpResponse& response, const absl::Status& status,
                 const server::RequestContext& request_context) {
  WriteError(response, HttpStatusFor(status), status, request_context);
}

// Whether the Accept header prefers an image to JSON: the media range with
// the highest q wins, the first on a tie; */* and absence mean JSON.
bool PrefersImage(const std::string& accept) {
  double best_q = -1;
  bool best_is_image = false;
  for (absl::string_view range : absl::StrSplit(accept, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(range, ';');
    const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
    double q = 1;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      if (absl::ConsumePrefix(&param, "q=") && !absl::SimpleAtod(param, &q)) q = 0;
    }
    const bool is_image = absl::StartsWith(type, "image/");
    const bool is_json = type == kJson || type == "application/*" || type == "*/*";
    if ((is_image || is_json) && q > 0 && q > best_q) {
      best_q = q;
      best_is_image = is_image;
    }
  }
  return best_is_image;
}

// RFC 9110 If-None-Match: "*" or a list of (possibly weak) entity tags.
bool MatchesIfNoneMatch(const std::string& header, const std::string& etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',', absl::SkipWhitespace())) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*") return true;
    absl::ConsumePrefix(&tag, "W/");
    if (tag == etag) return true;
  }
  return false;
}

std::string QuotedEtag(absl::string_view sha256_hex) {
  return absl::StrCat("\"", sha256_hex, "\"");
}

// Every value of a header, in order (a header may be sent more than once).
std::vector<std::string> HeaderValues(const HttpRequest& request,
                                      absl::string_view name) {
  std::vector<std::string> values;
  for (const auto& [field, value] : request.headers) {
    if (absl::EqualsIgnoreCase(field, name)) values.push_back(value);
  }
  return values;
}

// The values of cookie `name` in the request's Cookie headers, in order.
std::vector<std::string> CookieValues(const HttpRequest& request,
                                      absl::string_view name) {
  std::vector<std::string> values;
  for (const std::string& header : HeaderValues(request, "Cookie")) {
    for (absl::string_view pair : absl::StrSplit(header, ';', absl::SkipWhitespace())) {
      pair = absl::StripAsciiWhitespace(pair);
      absl::string_view value = pair;
      if (absl::ConsumePrefix(&value, name) && absl::ConsumePrefix(&value, "=")) {
        values.emplace_back(absl::StripAsciiWhitespace(value));
      }
    }
  }
  return values;
}

// The token of "Authorization: Bearer <token>"; "" without one.
std::string BearerToken(const HttpRequest& request) {
  const std::string header = request.HeaderValue("Authorization");
  absl::string_view value = absl::StripAsciiWhitespace(header);
  if (value.size() <= 7 || !absl::StartsWithIgnoreCase(value, "bearer ")) return "";
  return std::string(absl::StripAsciiWhitespace(value.substr(7)));
}

// "/v1/images/<id>[/<rest>]" -> id and rest; nullopt for other paths or an
// id with a slash (after decoding) in it.
std::optional<std::pair<std::string, std::string>> ImagePath(const std::string& path) {
  absl::string_view rest = path;
  if (!absl::ConsumePrefix(&rest, "/v1/images/")) return std::nullopt;
  const size_t slash = rest.find('/');
  std::string id(rest.substr(0, slash));
  if (id.empty()) return std::nullopt;
  return std::pair{std::move(id), slash == absl::string_view::npos
                                      ? std::string()
                                      : std::string(rest.substr(slash))};
}

}  // namespace

HttpRoutes::HttpRoutes(Gallery* gallery, StatusBoard* board, GatewayMetrics* metrics,
                       VisitorGuards guards)
    : gallery_(gallery), board_(board), metrics_(metrics), guards_(std::move(guards)) {}

HttpRoutes::Visitor HttpRoutes::Identify(const HttpRequest& request,
                                         bool start_session) const {
  Visitor visitor;
  visitor.from_page = !request.HeaderValue(kClientHeader).empty();
  if (guards_.trusted_proxy_hops > 0) {
    // The proxy nearest to us says how it was reached: the last value.
    const std::vector<std::string> protos = HeaderValues(request, "X-Forwarded-Proto");
    if (!protos.empty()) {
      std::vector<absl::string_view> parts = absl::StrSplit(protos.back(), ',');
      visitor.https =
          absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts.back()), "https");
    }
  }
  if (guards_.sessions == nullptr) return visitor;
  const absl::Time now = absl::Now();
  for (const std::string& value : CookieValues(request, kSessionCookie)) {
    absl::StatusOr<Session> session = guards_.sessions->Verify(value, now);
    if (!session.ok()) continue;
    visitor.had_valid_cookie = true;
    if (guards_.sessions->ShouldReissue(*session, now)) {
      // Same owner, signed with today's key and time: rotation and an
      // active visitor's session both carry on.
      session->issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
      session->signed_with_old_key = false;
      visitor.set_cookie = start_session;
    }
    visitor.session = *std::move(session);
    return visitor;
  }
  if (start_session) {
    visitor.session = guards_.sessions->NewSession(now);
    visitor.set_cookie = true;
  }
  return visitor;
}

std::string HttpRoutes::SetCookieValue(const Visitor& visitor) const {
  return absl::StrCat(
      kSessionCookie, "=", guards_.sessions->Sign(*visitor.session),
      "; Path=/; Max-Age=", absl::ToInt64Seconds(guards_.sessions->max_age()),
      "; HttpOnly; SameSite=Lax", visitor.https ? "; Secure" : "");
}

std::optional<HttpRefusal> HttpRoutes::CheckCsrf(const Visitor& visitor) const {
  if (!visitor.had_valid_cookie || visitor.from_page) return std::nullopt;
  // A cross-site form can send the cookie (a top-level POST under
  // SameSite=Lax in some browsers, any request in old ones) but never a
  // custom header: without it the request may be a forgery.
  return HttpRefusal{
      403,
      absl::PermissionDeniedError(absl::StrCat(
          "a request that carries the session cookie must also send the ", kClientHeader,
          " header, as the page does (API clients: send no cookie, and the delete "
          "token to delete)"))};
}

std::optional<HttpRefusal> HttpRoutes::AdmitUpload(const HttpRequest& request) {
  if (std::optional<HttpRefusal> forged = CheckCsrf(Identify(request, false)))
    return forged;
  if (guards_.upload_limiter == nullptr) return std::nullopt;
  const std::string client =
      ClientAddress(request.remote_addr, HeaderValues(request, "X-Forwarded-For"),
                    guards_.trusted_proxy_hops);
  // Local clients are the operator's own (load tests, benchmarks): they
  // measure the service, not the limiter.
  if (server::IsLoopbackHost(client) || guards_.rate_limit_exempt.Contains(client)) {
    return std::nullopt;
  }
  const RateDecision decision = guards_.upload_limiter->Take(client);
  if (decision.allowed) return std::nullopt;
  return HttpRefusal{429,
                     absl::ResourceExhaustedError(
                         absl::StrCat("too many uploads from your address; try again in ",
                                      absl::ToInt64Seconds(decision.retry_after), " s")),
                     decision.retry_after};
}

bool HttpRoutes::IsUpload(const HttpRequest& request) {
  return request.method == "POST" && request.path == "/v1/images";
}

HttpResponse HttpRoutes::Instrument(
    const char* route, const HttpRequest& request,
    const std::function<void(const server::RequestContext&, HttpResponse&)>& run) {
  const absl::Time start = absl::Now();
  // The shared rule: honour a sane X-Request-Id and a valid traceparent,
  // make new ones otherwise; both go back to the caller and on to every
  // backend call.
  const server::RequestContext request_context = server::RequestContext::FromIncoming(
      request.HeaderValue("X-Request-Id"), request.HeaderValue("traceparent"));
  HttpResponse response;
  metrics_->http_requests_in_flight().Add({}, 1);
  try {
    run(request_context, response);
  } catch (const std::exception& e) {
    // Bad input must never take the process down; this is a bug to report.
    response = HttpResponse();
    WriteError(response, 500,
               absl::InternalError(absl::StrCat("unexpected exception: ", e.what())),
               request_context);
  } catch (...) {
    response = HttpResponse();
    WriteError(response, 500, absl::InternalError("unexpected exception of unknown type"),
               request_context);
  }
  metrics_->http_requests_in_flight().Add({}, -1);
  response.SetHeader("X-Request-Id", request_context.request_id());
  response.SetHeader("traceparent", request_context.traceparent());
  response.SetHeader("X-Content-Type-Options", "nosniff");
  if (!response.HasHeader("Content-Security-Policy")) {
    response.SetHeader("Content-Security-Policy", kDataContentSecurityPolicy);
  }
  const absl::Duration latency = absl::Now() - start;
  metrics_->RecordHttpRequest(request.method.empty() ? "-" : request.method, route,
                              response.status, latency);
  const bool quiet = absl::StartsWith(route, "/healthz") ||
                     absl::StartsWith(route, "/livez") ||
                     absl::StartsWith(route, "/readyz");
  server::Log(
      response.status >= 500 ? server::LogLevel::kWarning
      : quiet                ? server::LogLevel::kDebug
                             : server::LogLevel::kInfo,
      "http request",
      request_context.WithLogFields({{"method", request.method},
                                     {"path", request.path},
                                     {"route", route},
                                     {"status", response.status},
                                     {"duration_ms", absl::ToDoubleMilliseconds(latency)},
                                     {"remote_addr", request.remote_addr}}));
  return response;
}

HttpResponse HttpRoutes::Refuse(const HttpRequest& request, const HttpRefusal& refusal) {
  HttpResponse response =
      Instrument(IsUpload(request) ? "/v1/images" : "unmatched", request,
                 [&](const server::RequestContext& request_context, HttpResponse& out) {
                   WriteError(out, refusal.http_status, refusal.status, request_context,
                              refusal.retry_after);
                 });
  response.close = true;
  return response;
}

HttpResponse HttpRoutes::Handle(const HttpRequest& request, UploadForm* upload) {
  // Probes keep no cookies: a session each would be waste. Nor do the
  // images: shared links stay cacheable (a response that sets a cookie must
  // not be), and the page that shows them has set it already.
  const std::optional<std::pair<std::string, std::string>> image =
      ImagePath(request.path);
  const bool starts_session = request.path != "/healthz" && request.path != "/livez" &&
                              request.path != "/readyz" &&
                              !(image.has_value() && !image->second.empty());
  const Visitor visitor = Identify(request, starts_session);
  const char* route = "unmatched";
  std::function<void(const server::RequestContext&, HttpResponse&)> run;
  Route(request, upload, visitor, &route, &run);
  return Instrument(
      route, request,
      [&](const server::RequestContext& request_context, HttpResponse& response) {
        if (hook_) hook_(request);
        run(request_context, response);
        if (visitor.set_cookie) {
          response.SetHeader("Set-Cookie", SetCookieValue(visitor));
          // A shared cache must never hand one visitor's cookie to another.
          response.SetHeader("Cache-Control", "no-store");
        }
      });
}

void HttpRoutes::Route(
    const HttpRequest& request, UploadForm* upload, const Visitor& visitor,
    const char** route,
    std::function<void(const server::RequestContext&, HttpResponse&)>* run) {
  const std::string& method = request.method;
  const std::string& path = request.path;
  auto set = [&](const char* name, auto handler) {
    *route = name;
    *run = std::move(handler);
  };
  const bool get = method == "GET" || method == "HEAD";
  if (IsUpload(request) && upload != nullptr) {
    set("/v1/images",
        [this, &request, upload, &visitor](const server::RequestContext& request_context,
                                           HttpResponse& response) {
          Upload(request, *upload, visitor, response, request_context);
        });
  } else if (get && path == "/v1/images") {
    set("/v1/images",
        [this, &request, &visitor](const server::RequestContext& request_context,
                                   HttpResponse& response) {
          List(request, visitor, response, request_context);
        });
  } else if (auto image = ImagePath(path);
             image.has_value() && (get || method == "DELETE")) {
    const auto& [id, rest] = *image;
    if (method == "DELETE" && rest.empty()) {
      set("/v1/images/{id}",
          [this, &request, &visitor, id = id](
              const server::RequestContext& request_context, HttpResponse& response) {
            Delete(request, id, visitor, response, request_context);
          });
    } else if (get && rest.empty()) {
      set("/v1/images/{id}",
          [this, id = id](const server::RequestContext& request_context,
                          HttpResponse& response) {
            GetRecord(id, response, request_context);
          });
    } else if (get && (rest == "/original" || rest == "/result")) {
      const ImageVariant variant =
          rest == "/original" ? ImageVariant::kOriginal : ImageVariant::kResult;
      set(rest == "/original" ? "/v1/images/{id}/original" : "/v1/images/{id}/result",
          [this, &request, id = id, variant](
              const server::RequestContext& request_context, HttpResponse& response) {
            GetImage(request, id, variant, response, request_context);
          });
    }
  } else if (get && path == "/v1/styles") {
    set("/v1/styles",
        [this](const server::RequestContext& request_context, HttpResponse& response) {
          Styles(response, request_context);
        });
  } else if (get && path == "/v1/info") {
    set("/v1/info", [this](const server::RequestContext& request_context,
                           HttpResponse& response) { Info(response, request_context); });
  } else if (get && path == "/healthz") {
    set("/healthz", [](const server::RequestContext&, HttpResponse& response) {
      response.SetContent("ok\n", "text/plain");
    });
  } else if (get && path == "/livez") {
    // The load balancer's check: whether this gateway can serve (running,
    // not draining), not whether every backend answers (/readyz): a backend
    // blip must not take every gateway out of the target group. Calls that
    // need a missing backend get 503 with Retry-After instead.
    set("/livez", [this](const server::RequestContext&, HttpResponse& response) {
      response.SetHeader("Cache-Control", "no-store");
      if (draining_) {
        WriteJson(response, 503, {{"live", false}, {"draining", true}});
      } else {
        WriteJson(response, 200, {{"live", true}});
      }
    });
  } else if (get && path == "/readyz") {
    set("/readyz", [this](const server::RequestContext& request_context,
                          HttpResponse& response) { Ready(response, request_context); });
  } else if (get && (path == "/" || path == "/index.html" || path == "/app.js" ||
                     path == "/style.css")) {
    set("/{asset}",
        [this, &request](const server::RequestContext&, HttpResponse& response) {
          Asset(request, response);
        });
  }
  if (!*run) {
    *route = "unmatched";
    *run = [&request](const server::RequestContext& request_context,
                      HttpResponse& response) {
      WriteStatus(response,
                  absl::NotFoundError(
                      absl::StrCat("no route for ", request.method, " ", request.path)),
                  request_context);
    };
  }
}

void HttpRoutes::Upload(const HttpRequest& request, UploadForm& form,
                        const Visitor& visitor, HttpResponse& response,
                        const server::RequestContext& request_context) {
  // Checked before the body was read too (AdmitUpload); again here for
  // callers that did not.
  if (std::optional<HttpRefusal> forged = CheckCsrf(visitor)) {
    WriteError(response, forged->http_status, forged->status, request_context);
    return;
  }
  // Whether the bytes are an image is the gallery's decision (one header
  // parse per upload); its NOT_AN_IMAGE reason answers 415.
  // A form field wins over the query parameter of the same name.
  if (form.style.empty()) form.style = request.ParamValue("style");
  if (form.format.empty()) form.format = request.ParamValue("format");
  absl::StatusOr<UploadResult> uploaded = gallery_->Upload(
      request_context,
      UploadRequest{
          .image = std::move(form.image),
          .style = std::move(form.style),
          .format = std::move(form.format),
          .owner_id = visitor.session.has_value() ? visitor.session->owner_id : ""});
  if (!uploaded.ok()) {
    WriteStatus(response, uploaded.status(), request_context);
    return;
  }
  const ImageRecord& record = uploaded->record;
  response.SetHeader("Location", ImageUrl(record.id));
  // The delete token is in this answer only: no cache may keep it.
  response.SetHeader("Cache-Control", "no-store");
  if (PrefersImage(request.HeaderValue("Accept"))) {
    absl::StatusOr<std::string> type = ServedImageType(uploaded->result_image);
    if (!type.ok()) {
      WriteStatus(response, type.status(), request_context);
      return;
    }
    response.status = 201;
    response.SetHeader("ETag", QuotedEtag(record.result.sha256_hex));
    response.SetHeader("X-Stache-Image-Id", record.id);
    response.SetHeader("X-Stache-Delete-Token", uploaded->delete_token);
    response.SetContent(std::move(uploaded->result_image), *type);
    return;
  }
  json body = ImageRecordToJson(record);
  body["delete_token"] = uploaded->delete_token;
  WriteJson(response, 201, body);
}

void HttpRoutes::GetRecord(const std::string& id, HttpResponse& response,
                           const server::RequestContext& request_context) {
  absl::StatusOr<ImageRecord> record = gallery_->GetRecord(request_context, id);
  if (!record.ok()) {
    WriteStatus(response, record.status(), request_context);
    return;
  }
  WriteJson(response, 200, ImageRecordToJson(*record));
}

// Range requests are not served: the whole image comes back (200), which
// RFC 9110 allows, so that no client can have one image sent many times
// over in one answer.
void HttpRoutes::GetImage(const HttpRequest& request, const std::string& id,
                          ImageVariant variant, HttpResponse& response,
                          const server::RequestContext& request_context) {
  const std::string if_none_match = request.HeaderValue("If-None-Match");
  if (!if_none_match.empty()) {
    // A cheap Stat answers a revalidation without moving the bytes.
    absl::StatusOr<storage::v1::ObjectInfo> info =
        gallery_->StatImage(request_context, id, variant);
    if (!info.ok()) {
      WriteStatus(response, info.status(), request_context);
      return;
    }
    const std::string etag = QuotedEtag(info->sha256_hex());
    if (MatchesIfNoneMatch(if_none_match, etag)) {
      response.status = 304;
      response.SetHeader("ETag", etag);
      response.SetHeader("Cache-Control", kImageCaching);
      return;
    }
  }
  absl::StatusOr<StoredObject> object = gallery_->GetImage(request_context, id, variant);
  if (!object.ok()) {
    WriteStatus(response, object.status(), request_context);
    return;
  }
  response.status = 200;
  response.SetHeader("ETag", QuotedEtag(object->info.sha256_hex()));
  response.SetHeader("Cache-Control", kImageCaching);
  response.SetHeader("Accept-Ranges", "none");
  // The type sniffed from the bytes by the gallery, never a stored string.
  response.SetContent(std::move(object->bytes), object->info.content_type());
}

void HttpRoutes::Delete(const HttpRequest& request, const std::string& id,
                        const Visitor& visitor, HttpResponse& response,
                        const server::RequestContext& request_context) {
  const DeleteCredentials credentials{
      .owner_id = SessionCounts(visitor) ? visitor.session->owner_id : "",
      .delete_token = BearerToken(request)};
  if (credentials.delete_token.empty()) {
    if (std::optional<HttpRefusal> forged = CheckCsrf(visitor)) {
      WriteError(response, forged->http_status, forged->status, request_context);
      return;
    }
  }
  absl::Status status = gallery_->Delete(request_context, id, credentials);
  if (!status.ok()) {
    WriteStatus(response, status, request_context);
    return;
  }
  response.status = 204;
}

void HttpRoutes::List(const HttpRequest& request, const Visitor& visitor,
                      HttpResponse& response,
                      const server::RequestContext& request_context) {
  uint32_t page_size = 0;
  if (request.HasParam("page_size") &&
      (!absl::SimpleAtoi(request.ParamValue("page_size"), &page_size) ||
       page_size == 0)) {
    WriteStatus(response,
                absl::InvalidArgumentError(absl::StrCat(
                    "page_size must be a number between 1 and ", kMaxPageSize)),
                request_context);
    return;
  }
  // Only the visitor's own uploads; a new visitor has none.
  absl::StatusOr<ImagePage> page = gallery_->List(
      request_context, visitor.had_valid_cookie ? visitor.session->owner_id : "",
      page_size, request.ParamValue("page_token"));
  if (!page.ok()) {
    WriteStatus(response, page.status(), request_context);
    return;
  }
  json images = json::array();
  for (const ImageSummary& summary : page->images)
    images.push_back(ImageSummaryToJson(summary));
  response.SetHeader("Cache-Control", "no-store");
  WriteJson(response, 200,
            {{"images", std::move(images)}, {"next_page_token", page->next_page_token}});
}

void HttpRoutes::Styles(HttpResponse& response,
                        const server::RequestContext& request_context) {
  absl::StatusOr<std::vector<StyleSummary>> styles =
      gallery_->ListStyles(request_context);
  if (!styles.ok()) {
    WriteStatus(response, styles.status(), request_context);
    return;
  }
  json out = json::array();
  for (const StyleSummary& style : *styles) {
    out.push_back(
        {{"name", style.name},
         {"display_name", style.display_name},
         {"preview_png", style.preview_png.empty()
                             ? ""
                             : absl::StrCat("data:image/png;base64,",
                                            absl::Base64Escape(style.preview_png))}});
  }
  // Styles change only with an overlay release; a minute of staleness is fine.
  response.SetHeader("Cache-Control", "public, max-age=60");
  WriteJson(response, 200, {{"styles", std::move(out)}});
}

void HttpRoutes::Info(HttpResponse& response,
                      const server::RequestContext& request_context) {
  response.SetHeader("Cache-Control", "no-store");
  // Versions and how many instances answer; the detail (addresses, the
  // bucket, where credentials came from) is on the admin port only.
  WriteJson(response, 200, board_->PublicInfo(request_context));
}

void HttpRoutes::Ready(HttpResponse& response,
                       const server::RequestContext& request_context) {
  response.SetHeader("Cache-Control", "no-store");
  if (draining_) {
    WriteJson(response, 503, {{"ready", false}, {"draining", true}});
    return;
  }
  Readiness readiness = board_->CheckReadiness(request_context);
  WriteJson(response, readiness.ready ? 200 : 503,
            {{"ready", readiness.ready}, {"backends", std::move(readiness.backends)}});
}

void HttpRoutes::Asset(const HttpRequest& request, HttpResponse& response) {
  const WebAsset* asset = FindWebAsset(request.path);
  if (asset == nullptr) {
    response.status = 404;
    WriteJson(
        response, 404,
        ErrorBody(404, absl::NotFoundError(absl::StrCat("no page at ", request.path))));
    return;
  }
  const std::string etag = QuotedEtag(asset->sha256_hex);
  // Revalidated on every load, so a new release shows at once.
  response.SetHeader("Cache-Control", "no-cache");
  response.SetHeader("ETag", etag);
  response.SetHeader("Content-Security-Policy", kContentSecurityPolicy);
  if (MatchesIfNoneMatch(request.HeaderValue("If-None-Match"), etag)) {
    response.status = 304;
    return;
  }
  response.status = 200;
  response.SetContent(std::string(asset->body), asset->content_type);
}

}  // namespace stache::gateway::internal
