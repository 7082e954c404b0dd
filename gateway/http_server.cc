#include "gateway/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "gateway/http_errors.h"
#include "gateway/image_record.h"
#include "gateway/web_assets.h"
#include "imaging/image_decoder.h"
#include "server/log.h"
#include "server/metrics.h"

namespace stache::gateway {
namespace {

using ::httplib::ContentReader;
using ::httplib::Request;
using ::httplib::Response;
using ::nlohmann::json;

constexpr char kJson[] = "application/json";
// Form fields other than the image are a few bytes; more is not a form we
// understand.
constexpr size_t kMaxFormFieldBytes = 256;
// Header fields in one request, as Apache's LimitRequestFields; browsers
// and curl send about a dozen. cpp-httplib 0.11 sets no limit of its own.
constexpr size_t kMaxHeaderFields = 100;
// Stored images never change (a new upload gets a new id).
constexpr char kImmutable[] = "public, max-age=31536000, immutable";
// The page only loads its own files: no CDN, nothing from elsewhere.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'";

void WriteJson(Response& response, int http_status, const json& body) {
  response.status = http_status;
  response.set_content(body.dump(), kJson);
}

void WriteError(Response& response, int http_status, const absl::Status& status) {
  // Shed load (429) and unavailable backends (503) are worth retrying soon:
  // say when, so that well-behaved clients back off instead of hammering.
  if (http_status == 429 || http_status == 503) response.set_header("Retry-After", "1");
  WriteJson(response, http_status, ErrorBody(http_status, status));
}

// The table decides; only HTTP-level problems pass their own status.
void WriteStatus(Response& response, const absl::Status& status) {
  WriteError(response, HttpStatusForCode(status.code()), status);
}

// The body of this request was not (fully) read, so the connection cannot
// carry another request: it is closed after the response. httplib closes a
// connection when a content provider gives up, so the body already set is
// sent through one that writes it and then does; without a Content-Length
// the close also ends the body, as HTTP/1.1 allows for responses.
void CloseAfterResponse(Response& response) {
  response.set_header("Connection", "close");
  auto body = std::make_shared<std::string>(std::move(response.body));
  const std::string content_type = response.get_header_value("Content-Type");
  response.body.clear();
  response.headers.erase("Content-Type");
  response.set_content_provider(content_type.c_str(),
                                [body](size_t /*offset*/, httplib::DataSink& sink) {
                                  sink.write(body->data(), body->size());
                                  return false;
                                });
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

// The parts of an upload request, however it was sent.
struct UploadForm {
  std::string image;
  std::string style;
  std::string format;
};

// An HTTP-level failure of reading a request: status code plus why.
struct RequestError {
  int http_status;
  absl::Status status;
};

bool IsAcceptedUploadType(const std::string& content_type) {
  const std::string type = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';'))));
  return type == "multipart/form-data" || absl::StartsWith(type, "image/") ||
         type == "application/octet-stream";
}

RequestError TooLarge(int64_t max_body_bytes) {
  return {413, absl::ResourceExhaustedError(absl::StrCat(
                   "the upload is larger than the limit of ", max_body_bytes, " bytes"))};
}

// Answers what can be known from the headers alone, before any of the body
// is read: too large (413), not an image type (415), no body at all (400).
std::optional<RequestError> CheckUploadHeaders(const Request& request,
                                               int64_t max_body_bytes) {
  const std::string content_length = request.get_header_value("Content-Length");
  const bool chunked = absl::StrContains(
      absl::AsciiStrToLower(request.get_header_value("Transfer-Encoding")), "chunked");
  if (!content_length.empty()) {
    uint64_t length = 0;
    if (!absl::SimpleAtoi(content_length, &length)) {
      return RequestError{400,
                          absl::InvalidArgumentError("Content-Length is not a number")};
    }
    if (length > static_cast<uint64_t>(max_body_bytes)) return TooLarge(max_body_bytes);
    if (length == 0) {
      return RequestError{400,
                          absl::InvalidArgumentError("the request has an empty body")};
    }
  } else if (!chunked) {
    return RequestError{
        400, absl::InvalidArgumentError(
                 "the request has no body: send the photo as multipart/form-data (field "
                 "'image') or as an image/* body")};
  }
  if (!IsAcceptedUploadType(request.get_header_value("Content-Type"))) {
    return RequestError{
        415, absl::InvalidArgumentError(absl::StrCat(
                 "Content-Type '", request.get_header_value("Content-Type"),
                 "' is not accepted: send multipart/form-data with the photo in field "
                 "'image', or the photo itself as image/*"))};
  }
  return std::nullopt;
}

// Reads the body through httplib's (multipart) parser, never holding more
// than `max_body_bytes`; the limit also covers chunked bodies, whose length
// is unknown up front.
absl::StatusOr<UploadForm> ReadUploadForm(const Request& request,
                                          const ContentReader& content_reader,
                                          int64_t max_body_bytes,
                                          std::optional<RequestError>& error) {
  UploadForm form;
  int64_t received = 0;
  bool too_large = false;
  bool bad_field = false;
  auto count = [&](size_t length) {
    received += static_cast<int64_t>(length);
    too_large = received > max_body_bytes;
    return !too_large;
  };
  bool read_ok = false;
  bool have_image = false;
  if (request.is_multipart_form_data()) {
    std::string* field = nullptr;
    std::string ignored;
    read_ok = content_reader(
        [&](const httplib::MultipartFormData& part) {
          if (part.name == "image") {
            if (have_image) {
              bad_field = true;
              return false;
            }
            have_image = true;
            field = &form.image;
          } else if (part.name == "style") {
            field = &form.style;
          } else if (part.name == "format") {
            field = &form.format;
          } else {
            ignored.clear();
            field = &ignored;
          }
          return true;
        },
        [&](const char* data, size_t length) {
          if (!count(length)) return false;
          if (field != &form.image && field->size() + length > kMaxFormFieldBytes) {
            bad_field = true;
            return false;
          }
          field->append(data, length);
          return true;
        });
  } else {
    read_ok = content_reader([&](const char* data, size_t length) {
      if (!count(length)) return false;
      form.image.append(data, length);
      return true;
    });
    have_image = true;
  }
  if (too_large) {
    error = TooLarge(max_body_bytes);
  } else if (bad_field) {
    error = RequestError{
        400, absl::InvalidArgumentError(absl::StrCat(
                 "malformed upload form: 'image' must appear once and other fields are "
                 "limited to ",
                 kMaxFormFieldBytes, " bytes"))};
  } else if (!read_ok) {
    error = RequestError{
        400, absl::InvalidArgumentError(request.is_multipart_form_data()
                                            ? "malformed multipart/form-data body"
                                            : "the request body could not be read")};
  } else if (!have_image) {
    error = RequestError{
        400, absl::InvalidArgumentError("the form has no 'image' field with the photo")};
  } else if (form.image.empty()) {
    error = RequestError{400, absl::InvalidArgumentError("the uploaded image is empty")};
  }
  if (error.has_value()) return error->status;
  return form;
}

}  // namespace

namespace internal {

// Everything a handler needs; owned by the HttpServer, outlives the
// httplib server whose handlers point to it.
// httplib's ThreadPool queues accepted connections without bound, so a
// flood of connections would cost memory without bound. This queue makes
// the listener wait while `threads + max_waiting` connections are being
// served or waiting; new ones then wait in the kernel's listen backlog.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  // `waiting` follows the connections not yet on a thread.
  BoundedTaskQueue(int threads, int max_waiting, server::Gauge& waiting)
      : pool_(static_cast<size_t>(threads)),
        limit_(static_cast<size_t>(threads) + static_cast<size_t>(max_waiting)),
        waiting_(waiting) {}

  void enqueue(std::function<void()> fn) override {
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(this, &BoundedTaskQueue::HasRoom));
      ++pending_;
    }
    waiting_.Add({}, 1);
    pool_.enqueue([this, fn = std::move(fn)] {
      waiting_.Add({}, -1);
      fn();
      absl::MutexLock lock(&mutex_);
      --pending_;
    });
  }

  void shutdown() override { pool_.shutdown(); }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return pending_ < limit_; }

  httplib::ThreadPool pool_;
  const size_t limit_;
  server::Gauge& waiting_;
  absl::Mutex mutex_;
  size_t pending_ ABSL_GUARDED_BY(mutex_) = 0;  // being served or waiting
};

class HttpRoutes final {
 public:
  HttpRoutes(const HttpServerOptions& options, Gallery* gallery, StatusBoard* board,
             GatewayMetrics* metrics)
      : options_(options), gallery_(gallery), board_(board), metrics_(metrics) {}

  void Register(httplib::Server& server);
  // /readyz answers 503 from now on, so that balancers stop sending new
  // requests while the ones in flight finish.
  void StartDraining() { draining_ = true; }

 private:
  using Handler =
      std::function<void(const Request&, Response&, const server::RequestContext& trace)>;
  using ReaderHandler =
      std::function<void(const Request&, Response&, const ContentReader&,
                         const server::RequestContext& trace)>;

  // Request id, metrics, access log and a last-resort catch around a handler.
  template <typename Invoke>
  void Instrument(const char* method, const char* route, const Request& request,
                  Response& response, Invoke invoke);
  httplib::Server::Handler Wrap(const char* method, const char* route, Handler handler);
  httplib::Server::HandlerWithContentReader WrapReader(const char* method,
                                                       const char* route,
                                                       ReaderHandler handler);

  void Upload(const Request& request, Response& response, const ContentReader& reader,
              const server::RequestContext& trace);
  void GetRecord(const Request& request, Response& response,
                 const server::RequestContext& trace);
  void GetImage(const Request& request, Response& response, ImageVariant variant,
                const server::RequestContext& trace);
  void Delete(const Request& request, Response& response,
              const server::RequestContext& trace);
  void List(const Request& request, Response& response,
            const server::RequestContext& trace);
  void Styles(Response& response, const server::RequestContext& trace);
  void Info(Response& response, const server::RequestContext& trace);
  void Ready(Response& response, const server::RequestContext& trace);
  void Asset(const Request& request, Response& response);

  // Rejects an upload from its headers alone; true when it did.
  bool RejectUploadEarly(const Request& request, Response& response);

  const HttpServerOptions options_;
  Gallery* const gallery_;
  StatusBoard* const board_;
  GatewayMetrics* const metrics_;
  std::atomic<bool> draining_ = false;
};

template <typename Invoke>
void HttpRoutes::Instrument(const char* method, const char* route, const Request& request,
                            Response& response, Invoke invoke) {
  const absl::Time start = absl::Now();
  // The shared rule: honour a sane X-Request-Id and a valid traceparent,
  // make new ones otherwise; both go back to the caller and on to every
  // backend call.
  const server::RequestContext trace = server::RequestContext::FromIncoming(
      request.get_header_value("X-Request-Id"), request.get_header_value("traceparent"));
  response.set_header("X-Request-Id", trace.request_id());
  response.set_header("traceparent", trace.traceparent());
  metrics_->http_requests_in_flight().Add({}, 1);
  try {
    invoke(trace);
  } catch (const std::exception& e) {
    // Bad input must never take the process down; this is a bug to report.
    WriteError(response, 500,
               absl::InternalError(absl::StrCat("unexpected error: ", e.what())));
  }
  metrics_->http_requests_in_flight().Add({}, -1);
  const absl::Duration latency = absl::Now() - start;
  metrics_->RecordHttpRequest(method, route, response.status, latency);
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
}

httplib::Server::Handler HttpRoutes::Wrap(const char* method, const char* route,
                                          Handler handler) {
  return [this, method, route, handler = std::move(handler)](const Request& request,
                                                             Response& response) {
    Instrument(
        method, route, request, response,
        [&](const server::RequestContext& trace) { handler(request, response, trace); });
  };
}

httplib::Server::HandlerWithContentReader HttpRoutes::WrapReader(const char* method,
                                                                 const char* route,
                                                                 ReaderHandler handler) {
  return [this, method, route, handler = std::move(handler)](
             const Request& request, Response& response, const ContentReader& reader) {
    Instrument(method, route, request, response,
               [&](const server::RequestContext& trace) {
                 handler(request, response, reader, trace);
               });
  };
}

bool HttpRoutes::RejectUploadEarly(const Request& request, Response& response) {
  std::optional<RequestError> error =
      CheckUploadHeaders(request, options_.max_body_bytes);
  if (!error.has_value()) return false;
  Instrument("POST", "/v1/images", request, response, [&](const server::RequestContext&) {
    WriteError(response, error->http_status, error->status);
    CloseAfterResponse(response);
  });
  return true;
}

void HttpRoutes::Upload(const Request& request, Response& response,
                        const ContentReader& reader,
                        const server::RequestContext& trace) {
  std::optional<RequestError> error;
  absl::StatusOr<UploadForm> form =
      ReadUploadForm(request, reader, options_.max_body_bytes, error);
  if (!form.ok()) {
    WriteError(response, error->http_status, error->status);
    CloseAfterResponse(response);
    return;
  }
  if (absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(form->image);
      !header.ok()) {
    WriteError(
        response, 415,
        absl::InvalidArgumentError(absl::StrCat(
            "the upload is not an image stache can read: ", header.status().message())));
    return;
  }
  // A form field wins over the query parameter of the same name.
  if (form->style.empty()) form->style = request.get_param_value("style");
  if (form->format.empty()) form->format = request.get_param_value("format");
  absl::StatusOr<UploadResult> uploaded =
      gallery_->Upload(trace, UploadRequest{.image = std::move(form->image),
                                            .style = std::move(form->style),
                                            .format = std::move(form->format)});
  if (!uploaded.ok()) {
    WriteStatus(response, uploaded.status());
    return;
  }
  const ImageRecord& record = uploaded->record;
  response.set_header("Location", ImageUrl(record.id));
  if (PrefersImage(request.get_header_value("Accept"))) {
    response.status = 201;
    response.set_header("ETag", QuotedEtag(record.result.sha256_hex));
    response.set_header("X-Stache-Image-Id", record.id);
    response.set_content(std::move(uploaded->result_image),
                         record.result.content_type.c_str());
    return;
  }
  WriteJson(response, 201, ImageRecordToJson(record));
}

void HttpRoutes::GetRecord(const Request& request, Response& response,
                           const server::RequestContext& trace) {
  absl::StatusOr<ImageRecord> record = gallery_->GetRecord(trace, request.matches[1]);
  if (!record.ok()) {
    WriteStatus(response, record.status());
    return;
  }
  WriteJson(response, 200, ImageRecordToJson(*record));
}

void HttpRoutes::GetImage(const Request& request, Response& response,
                          ImageVariant variant, const server::RequestContext& trace) {
  const std::string id = request.matches[1];
  const std::string if_none_match = request.get_header_value("If-None-Match");
  if (!if_none_match.empty()) {
    // A cheap Stat answers a revalidation without moving the bytes.
    absl::StatusOr<storage::v1::ObjectInfo> info =
        gallery_->StatImage(trace, id, variant);
    if (!info.ok()) {
      WriteStatus(response, info.status());
      return;
    }
    const std::string etag = QuotedEtag(info->sha256_hex());
    if (MatchesIfNoneMatch(if_none_match, etag)) {
      response.status = 304;
      response.set_header("ETag", etag);
      response.set_header("Cache-Control", kImmutable);
      return;
    }
  }
  absl::StatusOr<StoredObject> object = gallery_->GetImage(trace, id, variant);
  if (!object.ok()) {
    WriteStatus(response, object.status());
    return;
  }
  response.status = 200;
  response.set_header("ETag", QuotedEtag(object->info.sha256_hex()));
  response.set_header("Cache-Control", kImmutable);
  response.set_content(std::move(object->bytes), object->info.content_type().c_str());
}

void HttpRoutes::Delete(const Request& request, Response& response,
                        const server::RequestContext& trace) {
  absl::Status status = gallery_->Delete(trace, request.matches[1]);
  if (!status.ok()) {
    WriteStatus(response, status);
    return;
  }
  response.status = 204;
}

void HttpRoutes::List(const Request& request, Response& response,
                      const server::RequestContext& trace) {
  uint32_t page_size = 0;
  if (request.has_param("page_size") &&
      (!absl::SimpleAtoi(request.get_param_value("page_size"), &page_size) ||
       page_size == 0)) {
    WriteStatus(response,
                absl::InvalidArgumentError(absl::StrCat(
                    "page_size must be a number between 1 and ", kMaxPageSize)));
    return;
  }
  absl::StatusOr<ImagePage> page =
      gallery_->List(trace, page_size, request.get_param_value("page_token"));
  if (!page.ok()) {
    WriteStatus(response, page.status());
    return;
  }
  json images = json::array();
  for (const ImageSummary& summary : page->images)
    images.push_back(ImageSummaryToJson(summary));
  response.set_header("Cache-Control", "no-store");
  WriteJson(response, 200,
            {{"images", std::move(images)}, {"next_page_token", page->next_page_token}});
}

void HttpRoutes::Styles(Response& response, const server::RequestContext& trace) {
  absl::StatusOr<std::vector<MustacheStyle>> styles = gallery_->ListStyles(trace);
  if (!styles.ok()) {
    WriteStatus(response, styles.status());
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
  response.set_header("Cache-Control", "public, max-age=60");
  WriteJson(response, 200, {{"styles", std::move(out)}});
}

void HttpRoutes::Info(Response& response, const server::RequestContext& trace) {
  response.set_header("Cache-Control", "no-store");
  WriteJson(response, 200, board_->Info(trace));
}

void HttpRoutes::Ready(Response& response, const server::RequestContext& trace) {
  response.set_header("Cache-Control", "no-store");
  if (draining_) {
    WriteJson(response, 503, {{"ready", false}, {"draining", true}});
    return;
  }
  Readiness readiness = board_->CheckReadiness(trace);
  WriteJson(response, readiness.ready ? 200 : 503,
            {{"ready", readiness.ready}, {"backends", std::move(readiness.backends)}});
}

void HttpRoutes::Asset(const Request& request, Response& response) {
  const WebAsset* asset = FindWebAsset(request.path);
  if (asset == nullptr) {
    WriteStatus(response, absl::NotFoundError(absl::StrCat("no page at ", request.path)));
    return;
  }
  const std::string etag = QuotedEtag(asset->sha256_hex);
  // Revalidated on every load, so a new release shows at once.
  response.set_header("Cache-Control", "no-cache");
  response.set_header("ETag", etag);
  response.set_header("Content-Security-Policy", kContentSecurityPolicy);
  if (MatchesIfNoneMatch(request.get_header_value("If-None-Match"), etag)) {
    response.status = 304;
    return;
  }
  response.status = 200;
  response.set_content(asset->body.data(), asset->body.size(),
                       std::string(asset->content_type).c_str());
}

void HttpRoutes::Register(httplib::Server& server) {
  server.set_default_headers({{"X-Content-Type-Options", "nosniff"}});

  // An upload is judged on its headers before its body is read: a body over
  // the limit is refused without reading it, and a client that asks first
  // (Expect: 100-continue, as curl does) never sends it.
  server.set_pre_routing_handler([this](const Request& request, Response& response) {
    if (request.headers.size() > kMaxHeaderFields) {
      Instrument(request.method.c_str(), "unmatched", request, response,
                 [&](const server::RequestContext&) {
                   WriteError(response, 431,
                              absl::InvalidArgumentError(
                                  absl::StrCat("the request has ", request.headers.size(),
                                               " header fields; at most ",
                                               kMaxHeaderFields, " are accepted")));
                   CloseAfterResponse(response);
                 });
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method == "POST" && request.path == "/v1/images" &&
        RejectUploadEarly(request, response)) {
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_expect_100_continue_handler(
      [this](const Request& request, Response& response) {
        if (request.method == "POST" && request.path == "/v1/images" &&
            RejectUploadEarly(request, response)) {
          return response.status;
        }
        return 100;
      });

  server.Post("/v1/images", WrapReader("POST", "/v1/images",
                                       [this](const Request& request, Response& response,
                                              const ContentReader& reader,
                                              const server::RequestContext& trace) {
                                         Upload(request, response, reader, trace);
                                       }));
  server.Get("/v1/images", Wrap("GET", "/v1/images",
                                [this](const Request& request, Response& response,
                                       const server::RequestContext& trace) {
                                  List(request, response, trace);
                                }));
  server.Get(R"(/v1/images/([^/]+))",
             Wrap("GET", "/v1/images/{id}",
                  [this](const Request& request, Response& response,
                         const server::RequestContext& trace) {
                    GetRecord(request, response, trace);
                  }));
  server.Get(R"(/v1/images/([^/]+)/original)",
             Wrap("GET", "/v1/images/{id}/original",
                  [this](const Request& request, Response& response,
                         const server::RequestContext& trace) {
                    GetImage(request, response, ImageVariant::kOriginal, trace);
                  }));
  server.Get(R"(/v1/images/([^/]+)/result)",
             Wrap("GET", "/v1/images/{id}/result",
                  [this](const Request& request, Response& response,
                         const server::RequestContext& trace) {
                    GetImage(request, response, ImageVariant::kResult, trace);
                  }));
  server.Delete(R"(/v1/images/([^/]+))",
                Wrap("DELETE", "/v1/images/{id}",
                     [this](const Request& request, Response& response,
                            const server::RequestContext& trace) {
                       Delete(request, response, trace);
                     }));
  server.Get("/v1/styles", Wrap("GET", "/v1/styles",
                                [this](const Request&, Response& response,
                                       const server::RequestContext& trace) {
                                  Styles(response, trace);
                                }));
  server.Get("/v1/info", Wrap("GET", "/v1/info",
                              [this](const Request&, Response& response,
                                     const server::RequestContext& trace) {
                                Info(response, trace);
                              }));
  server.Get("/healthz",
             Wrap("GET", "/healthz",
                  [](const Request&, Response& response, const server::RequestContext&) {
                    response.set_content("ok\n", "text/plain");
                  }));
  server.Get("/readyz", Wrap("GET", "/readyz",
                             [this](const Request&, Response& response,
                                    const server::RequestContext& trace) {
                               Ready(response, trace);
                             }));
  server.Get(
      "/metrics",
      Wrap("GET", "/metrics",
           [this](const Request&, Response& response, const server::RequestContext&) {
             response.set_content(server::RenderMetricsPage(metrics_->registry()),
                                  server::kMetricsContentType);
           }));
  server.Get(R"(/|/index\.html|/app\.js|/style\.css)",
             Wrap("GET", "/{asset}",
                  [this](const Request& request, Response& response,
                         const server::RequestContext&) { Asset(request, response); }));

  // Unknown paths, and errors httplib answers itself (a malformed request
  // line, a body over the limit on another route), get the same JSON error
  // shape as everything else. httplib calls this for every status >= 400;
  // responses that already have content (a type) are ours and left alone.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const Request& request, Response& response) {
        if (response.has_header("Content-Type")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        if (response.status == 404) {
          Instrument(request.method.c_str(), "unmatched", request, response,
                     [&](const server::RequestContext&) {
                       WriteStatus(response, absl::NotFoundError(absl::StrCat(
                                                 "no route for ", request.method, " ",
                                                 request.path)));
                     });
        } else {
          const int status = response.status;
          WriteError(
              response, status,
              absl::Status(status == 413   ? absl::StatusCode::kResourceExhausted
                           : status >= 500 ? absl::StatusCode::kInternal
                                           : absl::StatusCode::kInvalidArgument,
                           absl::StrCat("the request was refused (HTTP ", status, ")")));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler(
      [](const Request&, Response& response, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        WriteError(response, 500,
                   absl::InternalError(absl::StrCat("unexpected error: ", what)));
      });
}

}  // namespace internal

absl::Status ValidateHttpServerOptions(const HttpServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--port %d is not a TCP port (0..65535)", options.port));
  }
  if (options.max_body_bytes <= 0) {
    return absl::InvalidArgumentError("--max_body_bytes must be positive");
  }
  if (options.threads < 1 || options.threads > 4096) {
    return absl::InvalidArgumentError("--http_threads must be between 1 and 4096");
  }
  if (options.max_waiting_connections < 0 || options.max_waiting_connections > 65536) {
    return absl::InvalidArgumentError(
        "--http_max_waiting_connections must be between 0 and 65536");
  }
  if (options.read_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration() ||
      options.keep_alive_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--http_read_timeout, --http_write_timeout and --http_keep_alive_timeout must be "
        "positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, Gallery* gallery, StatusBoard* board,
    GatewayMetrics* metrics) {
  if (absl::Status status = ValidateHttpServerOptions(options); !status.ok())
    return status;
  auto server = std::make_unique<httplib::Server>();
  const int threads = options.threads;
  const int max_waiting = options.max_waiting_connections;
  server::Gauge* waiting = &metrics->http_connections_waiting();
  server->new_task_queue = [threads, max_waiting, waiting] {
    return new internal::BoundedTaskQueue(threads, max_waiting, *waiting);
  };
  auto seconds_and_micros = [](absl::Duration duration, auto set) {
    const int64_t micros = absl::ToInt64Microseconds(duration);
    set(static_cast<time_t>(micros / 1'000'000), static_cast<time_t>(micros % 1'000'000));
  };
  seconds_and_micros(options.read_timeout,
                     [&](time_t s, time_t us) { server->set_read_timeout(s, us); });
  seconds_and_micros(options.write_timeout,
                     [&](time_t s, time_t us) { server->set_write_timeout(s, us); });
  server->set_keep_alive_timeout(
      std::max<time_t>(1, absl::ToInt64Seconds(options.keep_alive_timeout)));
  // Bodies of other routes are refused by httplib beyond the same limit.
  server->set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  // Without it a response on a keep-alive connection (browsers, wrk) waits
  // for the client's delayed ACK, about 40 ms, before its last segment goes.
  server->set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which lets a second gateway bind
  // the same port and silently share traffic; a busy port must be an error.
  server->set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  auto routes = std::make_unique<internal::HttpRoutes>(options, gallery, board, metrics);
  routes->Register(*server);

  int port = options.port;
  const bool bound = options.port == 0
                         ? (port = server->bind_to_any_port(options.host)) > 0
                         : server->bind_to_port(options.host, options.port);
  if (!bound) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.host, ":", options.port,
                     ": the port is in use or the address is not local"));
  }
  std::unique_ptr<HttpServer> http(
      new HttpServer(std::move(routes), std::move(server), port));
  http->listener_ =
      std::thread([server = http->server_.get()] { server->listen_after_bind(); });
  // Shutdown must not race the listener's start, or stop() would be missed.
  for (int i = 0; i < 5000 && !http->server_->is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  server::LogInfo("serving http", {{"address", options.host},
                                   {"port", port},
                                   {"threads", options.threads},
                                   {"max_body_bytes", options.max_body_bytes}});
  return http;
}

HttpServer::HttpServer(std::unique_ptr<internal::HttpRoutes> routes,
                       std::unique_ptr<httplib::Server> server, int port)
    : routes_(std::move(routes)), server_(std::move(server)), port_(port) {}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::StartDraining() { routes_->StartDraining(); }

void HttpServer::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  server_->stop();
  if (listener_.joinable()) listener_.join();
}

}  // namespace stache::gateway
