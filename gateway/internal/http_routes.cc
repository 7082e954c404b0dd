#include "gateway/internal/http_routes.h"

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
#include "gateway/http_errors.h"
#include "gateway/image_record.h"
#include "gateway/web_assets.h"
#include "imaging/image_decoder.h"
#include "server/log.h"
#include "server/metrics.h"

namespace stache::gateway::internal {
namespace {

using ::nlohmann::json;

constexpr char kJson[] = "application/json";
// Stored images never change (a new upload gets a new id).
constexpr char kImmutable[] = "public, max-age=31536000, immutable";
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
                const server::RequestContext& trace) {
  // Shed load (429) and unavailable backends (503) are worth retrying soon:
  // say when, so that well-behaved clients back off instead of hammering.
  if (http_status == 429 || http_status == 503) response.SetHeader("Retry-After", "1");
  if (http_status >= 500) {
    // The body says less than this (PublicErrorMessage); operators read it
    // here, by the request id the client was given.
    server::LogWarning("request failed",
                       trace.WithLogFields({{"http_status", http_status},
                                            {"error", status.ToString()}}));
  }
  WriteJson(response, http_status, ErrorBody(http_status, status, trace.request_id()));
}

// The table decides; only HTTP-level problems pass their own status.
void WriteStatus(HttpResponse& response, const absl::Status& status,
                 const server::RequestContext& trace) {
  WriteError(response, HttpStatusForCode(status.code()), status, trace);
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

HttpRoutes::HttpRoutes(Gallery* gallery, StatusBoard* board, GatewayMetrics* metrics)
    : gallery_(gallery), board_(board), metrics_(metrics) {}

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
  const server::RequestContext trace = server::RequestContext::FromIncoming(
      request.HeaderValue("X-Request-Id"), request.HeaderValue("traceparent"));
  HttpResponse response;
  metrics_->http_requests_in_flight().Add({}, 1);
  try {
    run(trace, response);
  } catch (const std::exception& e) {
    // Bad input must never take the process down; this is a bug to report.
    response = HttpResponse();
    WriteError(response, 500,
               absl::InternalError(absl::StrCat("unexpected exception: ", e.what())), trace);
  } catch (...) {
    response = HttpResponse();
    WriteError(response, 500, absl::InternalError("unexpected exception of unknown type"),
               trace);
  }
  metrics_->http_requests_in_flight().Add({}, -1);
  response.SetHeader("X-Request-Id", trace.request_id());
  response.SetHeader("traceparent", trace.traceparent());
  response.SetHeader("X-Content-Type-Options", "nosniff");
  const absl::Duration latency = absl::Now() - start;
  metrics_->RecordHttpRequest(request.method.empty() ? "-" : request.method, route,
                              response.status, latency);
  const bool quiet = absl::StartsWith(route, "/healthz") ||
                     absl::StartsWith(route, "/readyz") ||
                     absl::StartsWith(route, "/metrics");
  server::Log(response.status >= 500 ? server::LogLevel::kWarning
              : quiet                ? server::LogLevel::kDebug
                                     : server::LogLevel::kInfo,
              "http request",
              trace.WithLogFields({{"method", request.method},
                                   {"path", request.path},
                                   {"route", route},
                                   {"status", response.status},
                                   {"duration_ms", absl::ToDoubleMilliseconds(latency)},
                                   {"remote_addr", request.remote_addr}}));
  return response;
}

HttpResponse HttpRoutes::Refuse(const HttpRequest& request, const HttpRefusal& refusal) {
  HttpResponse response = Instrument(
      IsUpload(request) ? "/v1/images" : "unmatched", request,
      [&](const server::RequestContext& trace, HttpResponse& out) {
        WriteError(out, refusal.http_status, refusal.status, trace);
      });
  response.close = true;
  return response;
}

HttpResponse HttpRoutes::Handle(const HttpRequest& request, UploadForm* upload) {
  const char* route = "unmatched";
  std::function<void(const server::RequestContext&, HttpResponse&)> run;
  Route(request, upload, &route, &run);
  return Instrument(route, request, [&](const server::RequestContext& trace,
                                        HttpResponse& response) {
    if (hook_) hook_(request);
    run(trace, response);
  });
}

void HttpRoutes::Route(
    const HttpRequest& request, UploadForm* upload, const char** route,
    std::function<void(const server::RequestContext&, HttpResponse&)>* run) {
  const std::string& method = request.method;
  const std::string& path = request.path;
  auto set = [&](const char* name, auto handler) {
    *route = name;
    *run = std::move(handler);
  };
  const bool get = method == "GET" || method == "HEAD";
  if (IsUpload(request) && upload != nullptr) {
    set("/v1/images", [this, &request, upload](const server::RequestContext& trace,
                                               HttpResponse& response) {
      Upload(request, *upload, response, trace);
    });
  } else if (get && path == "/v1/images") {
    set("/v1/images", [this, &request](const server::RequestContext& trace,
                                       HttpResponse& response) {
      List(request, response, trace);
    });
  } else if (auto image = ImagePath(path); image.has_value() && (get || method == "DELETE")) {
    const auto& [id, rest] = *image;
    if (method == "DELETE" && rest.empty()) {
      set("/v1/images/{id}", [this, id = id](const server::RequestContext& trace,
                                             HttpResponse& response) {
        Delete(id, response, trace);
      });
    } else if (get && rest.empty()) {
      set("/v1/images/{id}", [this, id = id](const server::RequestContext& trace,
                                             HttpResponse& response) {
        GetRecord(id, response, trace);
      });
    } else if (get && (rest == "/original" || rest == "/result")) {
      const ImageVariant variant =
          rest == "/original" ? ImageVariant::kOriginal : ImageVariant::kResult;
      set(rest == "/original" ? "/v1/images/{id}/original" : "/v1/images/{id}/result",
          [this, &request, id = id, variant](const server::RequestContext& trace,
                                             HttpResponse& response) {
            GetImage(request, id, variant, response, trace);
          });
    }
  } else if (get && path == "/v1/styles") {
    set("/v1/styles", [this](const server::RequestContext& trace, HttpResponse& response) {
      Styles(response, trace);
    });
  } else if (get && path == "/v1/info") {
    set("/v1/info", [this](const server::RequestContext& trace, HttpResponse& response) {
      Info(response, trace);
    });
  } else if (get && path == "/healthz") {
    set("/healthz", [](const server::RequestContext&, HttpResponse& response) {
      response.SetContent("ok\n", "text/plain");
    });
  } else if (get && path == "/readyz") {
    set("/readyz", [this](const server::RequestContext& trace, HttpResponse& response) {
      Ready(response, trace);
    });
  } else if (get && path == "/metrics") {
    set("/metrics", [this](const server::RequestContext&, HttpResponse& response) {
      response.SetContent(server::RenderMetricsPage(metrics_->registry()),
                          server::kMetricsContentType);
    });
  } else if (get && (path == "/" || path == "/index.html" || path == "/app.js" ||
                     path == "/style.css")) {
    set("/{asset}", [this, &request](const server::RequestContext&, HttpResponse& response) {
      Asset(request, response);
    });
  }
  if (!*run) {
    *route = "unmatched";
    *run = [&request](const server::RequestContext& trace, HttpResponse& response) {
      WriteStatus(response,
                  absl::NotFoundError(
                      absl::StrCat("no route for ", request.method, " ", request.path)),
                  trace);
    };
  }
}

void HttpRoutes::Upload(const HttpRequest& request, UploadForm& form,
                        HttpResponse& response, const server::RequestContext& trace) {
  if (absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(form.image);
      !header.ok()) {
    WriteError(
        response, 415,
        absl::InvalidArgumentError(absl::StrCat(
            "the upload is not an image stache can read: ", header.status().message())),
        trace);
    return;
  }
  // A form field wins over the query parameter of the same name.
  if (form.style.empty()) form.style = request.ParamValue("style");
  if (form.format.empty()) form.format = request.ParamValue("format");
  absl::StatusOr<UploadResult> uploaded =
      gallery_->Upload(trace, UploadRequest{.image = std::move(form.image),
                                            .style = std::move(form.style),
                                            .format = std::move(form.format)});
  if (!uploaded.ok()) {
    WriteStatus(response, uploaded.status(), trace);
    return;
  }
  const ImageRecord& record = uploaded->record;
  response.SetHeader("Location", ImageUrl(record.id));
  if (PrefersImage(request.HeaderValue("Accept"))) {
    response.status = 201;
    response.SetHeader("ETag", QuotedEtag(record.result.sha256_hex));
    response.SetHeader("X-Stache-Image-Id", record.id);
    response.SetContent(std::move(uploaded->result_image), record.result.content_type);
    return;
  }
  WriteJson(response, 201, ImageRecordToJson(record));
}

void HttpRoutes::GetRecord(const std::string& id, HttpResponse& response,
                           const server::RequestContext& trace) {
  absl::StatusOr<ImageRecord> record = gallery_->GetRecord(trace, id);
  if (!record.ok()) {
    WriteStatus(response, record.status(), trace);
    return;
  }
  WriteJson(response, 200, ImageRecordToJson(*record));
}

// Range requests are not served: the whole image comes back (200), which
// RFC 9110 allows, so that no client can have one image sent many times
// over in one answer.
void HttpRoutes::GetImage(const HttpRequest& request, const std::string& id,
                          ImageVariant variant, HttpResponse& response,
                          const server::RequestContext& trace) {
  const std::string if_none_match = request.HeaderValue("If-None-Match");
  if (!if_none_match.empty()) {
    // A cheap Stat answers a revalidation without moving the bytes.
    absl::StatusOr<storage::v1::ObjectInfo> info = gallery_->StatImage(trace, id, variant);
    if (!info.ok()) {
      WriteStatus(response, info.status(), trace);
      return;
    }
    const std::string etag = QuotedEtag(info->sha256_hex());
    if (MatchesIfNoneMatch(if_none_match, etag)) {
      response.status = 304;
      response.SetHeader("ETag", etag);
      response.SetHeader("Cache-Control", kImmutable);
      return;
    }
  }
  absl::StatusOr<StoredObject> object = gallery_->GetImage(trace, id, variant);
  if (!object.ok()) {
    WriteStatus(response, object.status(), trace);
    return;
  }
  response.status = 200;
  response.SetHeader("ETag", QuotedEtag(object->info.sha256_hex()));
  response.SetHeader("Cache-Control", kImmutable);
  response.SetHeader("Accept-Ranges", "none");
  response.SetContent(std::move(object->bytes), object->info.content_type());
}

void HttpRoutes::Delete(const std::string& id, HttpResponse& response,
                        const server::RequestContext& trace) {
  absl::Status status = gallery_->Delete(trace, id);
  if (!status.ok()) {
    WriteStatus(response, status, trace);
    return;
  }
  response.status = 204;
}

void HttpRoutes::List(const HttpRequest& request, HttpResponse& response,
                      const server::RequestContext& trace) {
  uint32_t page_size = 0;
  if (request.HasParam("page_size") &&
      (!absl::SimpleAtoi(request.ParamValue("page_size"), &page_size) || page_size == 0)) {
    WriteStatus(response,
                absl::InvalidArgumentError(absl::StrCat(
                    "page_size must be a number between 1 and ", kMaxPageSize)),
                trace);
    return;
  }
  absl::StatusOr<ImagePage> page =
      gallery_->List(trace, page_size, request.ParamValue("page_token"));
  if (!page.ok()) {
    WriteStatus(response, page.status(), trace);
    return;
  }
  json images = json::array();
  for (const ImageSummary& summary : page->images)
    images.push_back(ImageSummaryToJson(summary));
  response.SetHeader("Cache-Control", "no-store");
  WriteJson(response, 200,
            {{"images", std::move(images)}, {"next_page_token", page->next_page_token}});
}

void HttpRoutes::Styles(HttpResponse& response, const server::RequestContext& trace) {
  absl::StatusOr<std::vector<MustacheStyle>> styles = gallery_->ListStyles(trace);
  if (!styles.ok()) {
    WriteStatus(response, styles.status(), trace);
    return;
  }
  json out = json::array();
  for (const MustacheStyle& style : *styles) {
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

void HttpRoutes::Info(HttpResponse& response, const server::RequestContext& trace) {
  response.SetHeader("Cache-Control", "no-store");
  WriteJson(response, 200, board_->Info(trace));
}

void HttpRoutes::Ready(HttpResponse& response, const server::RequestContext& trace) {
  response.SetHeader("Cache-Control", "no-store");
  if (draining_) {
    WriteJson(response, 503, {{"ready", false}, {"draining", true}});
    return;
  }
  Readiness readiness = board_->CheckReadiness(trace);
  WriteJson(response, readiness.ready ? 200 : 503,
            {{"ready", readiness.ready}, {"backends", std::move(readiness.backends)}});
}

void HttpRoutes::Asset(const HttpRequest& request, HttpResponse& response) {
  const WebAsset* asset = FindWebAsset(request.path);
  if (asset == nullptr) {
    response.status = 404;
    WriteJson(response, 404,
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
