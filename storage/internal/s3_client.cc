#include "storage/internal/s3_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <pugixml.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/status_macros.h"
#include "storage/internal/sha256.h"
#include "storage/internal/sigv4.h"

namespace stache::storage::internal {
namespace {

constexpr char kUserMetadataPrefix[] = "x-amz-meta-";
// Bodies kept in memory (error documents, listings, index entries) are small;
// anything longer is cut.
constexpr size_t kMaxBufferedBody = 16 * 1024 * 1024;
constexpr int kAttempts = 3;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct S3Client::Request {
  std::string method = "GET";  // GET, HEAD, PUT, DELETE
  std::string bucket;
  std::string key;  // empty for bucket requests
  std::vector<std::pair<std::string, std::string>> query;
  HttpHeaders headers;           // signed and sent
  const S3Body* body = nullptr;  // PUT only
  // GET: receive the headers and the body of a successful response instead
  // of Response::body.
  const absl::FunctionRef<absl::Status(const S3ObjectHead&)>* on_head = nullptr;
  const ChunkSink* sink = nullptr;
};

struct S3Client::Response {
  long http_status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

namespace {

// State shared with libcurl's callbacks during one transfer.
struct Transfer {
  CURL* curl = nullptr;
  const S3Body* body = nullptr;
  uint64_t body_offset = 0;
  const absl::FunctionRef<absl::Status(const S3ObjectHead&)>* on_head = nullptr;
  const ChunkSink* sink = nullptr;
  absl::Status sink_status;
  // Whether anything reached the receiver (then a retry would repeat it).
  bool streamed = false;
  bool head_delivered = false;
  std::map<std::string, std::string> headers;
  std::string response_body;
};

absl::StatusOr<S3ObjectHead> ParseHead(
    const std::map<std::string, std::string>& headers) {
  S3ObjectHead head;
  for (const auto& [name, value] : headers) {
    if (name == "etag") head.etag = value;
    if (name == "content-type") head.content_type = value;
    if (name == "content-length" && !absl::SimpleAtoi(value, &head.size_bytes)) {
      return absl::InternalError(absl::StrCat("S3 sent a bad Content-Length: ", value));
    }
    if (absl::StartsWith(name, kUserMetadataPrefix)) {
      head.metadata[name.substr(std::strlen(kUserMetadataPrefix))] = value;
    }
  }
  return head;
}

// Hands the headers of a successful GET to its receiver, once.
absl::Status DeliverHead(Transfer& transfer) {
  if (transfer.head_delivered || transfer.on_head == nullptr) return absl::OkStatus();
  transfer.head_delivered = true;
  transfer.streamed = true;
  absl::StatusOr<S3ObjectHead> head = ParseHead(transfer.headers);
  if (!head.ok()) return head.status();
  return (*transfer.on_head)(*head);
}

size_t ReadBody(char* buffer, size_t size, size_t count, void* user_data) {
  auto* transfer = static_cast<Transfer*>(user_data);
  const S3Body& body = *transfer->body;
  const uint64_t remaining = body.size_bytes - transfer->body_offset;
  const size_t wanted = static_cast<size_t>(std::min<uint64_t>(remaining, size * count));
  if (wanted == 0) return 0;
  if (body.fd < 0) {
    std::memcpy(buffer, body.bytes.data() + transfer->body_offset, wanted);
    transfer->body_offset += wanted;
    return wanted;
  }
  const ssize_t got =
      pread(body.fd, buffer, wanted, static_cast<off_t>(transfer->body_offset));
  if (got <= 0) return CURL_READFUNC_ABORT;
  transfer->body_offset += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

size_t WriteBody(char* data, size_t size, size_t count, void* user_data) {
  auto* transfer = static_cast<Transfer*>(user_data);
  const size_t bytes = size * count;
  long http_status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &http_status);
  if (transfer->sink != nullptr && http_status >= 200 && http_status < 300) {
    transfer->sink_status = DeliverHead(*transfer);
    if (transfer->sink_status.ok()) {
      transfer->streamed = true;
      transfer->sink_status = (*transfer->sink)(absl::string_view(data, bytes));
    }
    return transfer->sink_status.ok() ? bytes : 0;  // 0 aborts the transfer
  }
  if (transfer->response_body.size() + bytes <= kMaxBufferedBody) {
    transfer->response_body.append(data, bytes);
  }
  return bytes;
}

size_t ReadHeader(char* data, size_t size, size_t count, void* user_data) {
  auto* transfer = static_cast<Transfer*>(user_data);
  const size_t bytes = size * count;
  absl::string_view line(data, bytes);
  // A new status line (after "100 Continue", say) starts a new header set.
  if (absl::StartsWith(line, "HTTP/")) {
    transfer->headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;
  std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
  absl::AsciiStrToLower(&name);
  transfer->headers[name] =
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  return bytes;
}

// S3's error document: <Error><Code>NoSuchKey</Code><Message>...</Message></Error>.
std::string DescribeError(const std::string& body, long http_status) {
  pugi::xml_document document;
  if (!body.empty() && document.load_buffer(body.data(), body.size())) {
    pugi::xml_node error = document.child("Error");
    std::string code = error.child_value("Code");
    std::string message = error.child_value("Message");
    if (!code.empty()) return absl::StrCat(code, ": ", message);
  }
  return absl::StrCat("HTTP ", http_status);
}

absl::Status StatusForHttp(long http_status, const std::string& body,
                           absl::string_view what) {
  const std::string message =
      absl::StrCat("S3 ", what, " failed: ", DescribeError(body, http_status));
  switch (http_status) {
    case 404:
      return absl::NotFoundError(message);
    case 412:
      return absl::FailedPreconditionError(message);
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(S3ClientOptions options) {
  if (!absl::StartsWith(options.endpoint, "http://") &&
      !absl::StartsWith(options.endpoint, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 endpoint \"", options.endpoint, "\" must start with http:// or https://"));
  }
  while (absl::EndsWith(options.endpoint, "/")) options.endpoint.pop_back();
  if (options.region.empty()) return absl::InvalidArgumentError("S3 region is empty");
  const S3Credentials& credentials = options.credentials;
  if ((credentials.access_key_id.empty() || credentials.secret_access_key.empty()) &&
      credentials.container_credentials_url.empty()) {
    return absl::InvalidArgumentError(
        "S3 credentials are missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
        "run "
        "with an ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)");
  }
  // The Host header, as signed: lower case, without the scheme's default port.
  const bool https = absl::StartsWith(options.endpoint, "https://");
  std::string host =
      absl::AsciiStrToLower(absl::string_view(options.endpoint).substr(https ? 8 : 7));
  if (host.empty() || absl::StrContains(host, '/') || absl::StrContains(host, '@')) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint \"", options.endpoint,
                     "\" must be a scheme, a host and a port only"));
  }
  const absl::string_view default_port = https ? ":443" : ":80";
  if (absl::EndsWith(host, default_port)) host.resize(host.size() - default_port.size());
  InitCurlOnce();
  return std::unique_ptr<S3Client>(new S3Client(std::move(options), std::move(host)));
}

S3Client::~S3Client() {
  absl::MutexLock lock(&mutex_);
  for (void* handle : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Client::AcquireHandle() {
  {
    absl::MutexLock lock(&mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Client::ReleaseHandle(void* handle) {
  absl::MutexLock lock(&mutex_);
  idle_handles_.push_back(handle);
}

absl::StatusOr<S3Client::Response> S3Client::Perform(const Request& request) {
  absl::Duration backoff = absl::Milliseconds(50);
  for (int attempt = 1;; ++attempt) {
    bool streamed = false;
    absl::StatusOr<Response> response = PerformOnce(request, &streamed);
    absl::Status status = response.status();
    if (response.ok() && (response->http_status >= 500 || response->http_status == 429)) {
      status = absl::UnavailableError("S3 is overloaded");
    }
    if (!absl::IsUnavailable(status) || streamed || attempt == kAttempts) return response;
    absl::SleepFor(backoff);
    backoff *= 4;
  }
}

absl::StatusOr<S3Client::Keys> S3Client::CurrentKeys() {
  const S3Credentials& credentials = options_.credentials;
  if (!credentials.access_key_id.empty()) {
    return Keys{.access_key_id = credentials.access_key_id,
                .secret_access_key = credentials.secret_access_key,
                .session_token = credentials.session_token};
  }
  absl::MutexLock lock(&keys_mutex_);
  // Refreshed early, so that no request is signed with keys about to expire.
  if (keys_.has_value() && absl::Now() + absl::Minutes(5) < keys_->expiration)
    return *keys_;
  absl::StatusOr<Keys> fetched = FetchContainerKeys();
  if (fetched.ok()) {
    keys_ = *fetched;
  } else if (!keys_.has_value() || absl::Now() >= keys_->expiration) {
    return fetched.status();
  }
  // On a failed refresh, the old keys serve until they actually expire.
  return *keys_;
}

absl::StatusOr<S3Client::Keys> S3Client::FetchContainerKeys() {
  const S3Credentials& credentials = options_.credentials;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl cannot create a handle");
  std::string body;
  curl_slist* headers = nullptr;
  if (!credentials.container_authorization.empty()) {
    headers = curl_slist_append(
        headers,
        absl::StrCat("Authorization: ", credentials.container_authorization).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, credentials.container_credentials_url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char* data, size_t size, size_t count, void* user_data) -> size_t {
        auto* out = static_cast<std::string*>(user_data);
        if (out->size() < kMaxBufferedBody) out->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  const CURLcode result = curl_easy_perform(curl);
  long http_status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  const std::string source =
      absl::StrCat("container credentials from ", credentials.container_credentials_url);
  if (result != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot fetch ", source, ": ", curl_easy_strerror(result)));
  }
  if (http_status != 200) {
    return absl::UnavailableError(
        absl::StrCat("cannot fetch ", source, ": HTTP ", http_status));
  }
  try {
    const nlohmann::json json = nlohmann::json::parse(body);
    Keys keys{.access_key_id = json.at("AccessKeyId").get<std::string>(),
              .secret_access_key = json.at("SecretAccessKey").get<std::string>(),
              .session_token = json.value("Token", "")};
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, json.at("Expiration").get<std::string>(),
                         &keys.expiration, &error)) {
      return absl::UnavailableError(
          absl::StrCat(source, " has a bad Expiration: ", error));
    }
    return keys;
  } catch (const nlohmann::json::exception& error) {
    return absl::UnavailableError(absl::StrCat(source, " are malformed: ", error.what()));
  }
}

absl::StatusOr<S3Client::Response> S3Client::PerformOnce(const Request& request,
                                                         bool* streamed) {
  STACHE_ASSIGN_OR_RETURN(const Keys keys, CurrentKeys());
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return absl::InternalError("libcurl cannot create a handle");
  // Back to the pool whatever happens; reset keeps its open connections.
  struct Releaser {
    S3Client* client;
    CURL* curl;
    ~Releaser() {
      curl_easy_reset(curl);
      client->ReleaseHandle(curl);
    }
  } releaser{this, curl};

  // Signed by us, not by libcurl 7.88 (see sigv4.h): every request carries
  // X-Amz-Content-SHA256, as AWS S3 requires.
  const std::string path = S3CanonicalPath(request.bucket, request.key);
  const SignedS3Request signed_request = SignS3Request(
      {.method = request.method,
       .host = host_,
       .path = path,
       .query = request.query,
       .headers = request.headers,
       .payload_sha256_hex = request.body != nullptr ? request.body->sha256_hex : ""},
      {.access_key_id = keys.access_key_id,
       .secret_access_key = keys.secret_access_key,
       .session_token = keys.session_token},
      options_.region, absl::Now());
  std::string url = absl::StrCat(options_.endpoint, path);
  if (!signed_request.query.empty()) absl::StrAppend(&url, "?", signed_request.query);

  Transfer transfer{.curl = curl,
                    .body = request.body,
                    .on_head = request.on_head,
                    .sink = request.sink};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : signed_request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(options_.stall_timeout)));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size_bytes));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode result = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  *streamed = transfer.streamed;
  if (!transfer.sink_status.ok()) return transfer.sink_status;
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("S3 ", request.method, " ", url,
                                               " failed: ", curl_easy_strerror(result)));
  }
  Response response;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.http_status);
  // An empty object has no body to trigger the delivery of its headers.
  if (response.http_status / 100 == 2) {
    absl::Status delivered = DeliverHead(transfer);
    *streamed = transfer.streamed;
    if (!delivered.ok()) return delivered;
  }
  response.headers = std::move(transfer.headers);
  response.body = std::move(transfer.response_body);
  return response;
}

absl::Status S3Client::CreateBucket(absl::string_view bucket) {
  static const S3Body kEmpty{.sha256_hex = Sha256Hex("")};
  Request request{.method = "PUT", .bucket = std::string(bucket), .body = &kEmpty};
  absl::StatusOr<Response> response = Perform(request);
  if (!response.ok()) return response.status();
  if (response->http_status / 100 == 2) return absl::OkStatus();
  return StatusForHttp(response->http_status, response->body,
                       absl::StrCat("create bucket ", bucket));
}

absl::Status S3Client::HeadBucket(absl::string_view bucket) {
  STACHE_ASSIGN_OR_RETURN(Response response,
                          Perform({.method = "HEAD", .bucket = std::string(bucket)}));
  if (response.http_status / 100 == 2) return absl::OkStatus();
  if (response.http_status == 403) {
    return absl::PermissionDeniedError(
        absl::StrCat("S3 denies access to bucket ", bucket,
                     " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"));
  }
  return StatusForHttp(response.http_status, response.body,
                       absl::StrCat("access to bucket ", bucket));
}

absl::StatusOr<S3ObjectHead> S3Client::HeadObject(absl::string_view bucket,
                                                  absl::string_view key) {
  STACHE_ASSIGN_OR_RETURN(Response response, Perform({.method = "HEAD",
                                                      .bucket = std::string(bucket),
                                                      .key = std::string(key)}));
  if (response.http_status / 100 != 2) {
    return StatusForHttp(response.http_status, response.body, absl::StrCat("HEAD ", key));
  }
  return ParseHead(response.headers);
}

absl::Status S3Client::PutObject(absl::string_view bucket, absl::string_view key,
                                 const S3Body& body, absl::string_view content_type,
                                 const std::map<std::string, std::string>& metadata) {
  Request request{.method = "PUT",
                  .bucket = std::string(bucket),
                  .key = std::string(key),
                  .body = &body};
  request.headers.emplace_back("Content-Type", std::string(content_type));
  for (const auto& [name, value] : metadata) {
    request.headers.emplace_back(absl::StrCat(kUserMetadataPrefix, name), value);
  }
  STACHE_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.http_status / 100 == 2) return absl::OkStatus();
  return StatusForHttp(response.http_status, response.body, absl::StrCat("PUT ", key));
}

absl::Status S3Client::GetObject(
    absl::string_view bucket, absl::string_view key,
    absl::FunctionRef<absl::Status(const S3ObjectHead&)> on_head, ChunkSink on_chunk) {
  Request request{.method = "GET",
                  .bucket = std::string(bucket),
                  .key = std::string(key),
                  .on_head = &on_head,
                  .sink = &on_chunk};
  STACHE_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.http_status / 100 == 2) return absl::OkStatus();
  return StatusForHttp(response.http_status, response.body, absl::StrCat("GET ", key));
}

absl::StatusOr<std::string> S3Client::GetObjectBytes(absl::string_view bucket,
                                                     absl::string_view key) {
  std::string bytes;
  STACHE_RETURN_IF_ERROR(GetObject(
      bucket, key, [](const S3ObjectHead&) { return absl::OkStatus(); },
      [&](absl::string_view chunk) {
        bytes.append(chunk.data(), chunk.size());
        return absl::OkStatus();
      }));
  return bytes;
}

absl::Status S3Client::DeleteObject(absl::string_view bucket, absl::string_view key) {
  STACHE_ASSIGN_OR_RETURN(Response response, Perform({.method = "DELETE",
                                                      .bucket = std::string(bucket),
                                                      .key = std::string(key)}));
  if (response.http_status / 100 == 2 || response.http_status == 404)
    return absl::OkStatus();
  return StatusForHttp(response.http_status, response.body, absl::StrCat("DELETE ", key));
}

absl::StatusOr<S3ListResult> S3Client::ListObjects(absl::string_view bucket,
                                                   absl::string_view prefix,
                                                   absl::string_view start_after,
                                                   absl::string_view continuation_token,
                                                   int max_keys) {
  Request request{.method = "GET", .bucket = std::string(bucket)};
  request.query = {{"list-type", "2"},
                   {"max-keys", absl::StrCat(max_keys)},
                   {"prefix", std::string(prefix)}};
  if (!continuation_token.empty()) {
    request.query.emplace_back("continuation-token", std::string(continuation_token));
  } else if (!start_after.empty()) {
    request.query.emplace_back("start-after", std::string(start_after));
  }
  STACHE_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.http_status / 100 != 2) {
    return StatusForHttp(response.http_status, response.body, "ListObjectsV2");
  }
  pugi::xml_document document;
  if (!document.load_buffer(response.body.data(), response.body.size())) {
    return absl::InternalError("S3 ListObjectsV2 answered with malformed XML");
  }
  pugi::xml_node result = document.child("ListBucketResult");
  if (!result)
    return absl::InternalError("S3 ListObjectsV2 answer has no ListBucketResult");
  S3ListResult list;
  for (pugi::xml_node contents : result.children("Contents")) {
    list.keys.emplace_back(contents.child_value("Key"));
    list.sizes.push_back(contents.child("Size").text().as_ullong());
  }
  list.truncated = std::string(result.child_value("IsTruncated")) == "true";
  list.next_continuation_token = result.child_value("NextContinuationToken");
  if (list.truncated && list.next_continuation_token.empty()) {
    return absl::InternalError(
        "S3 ListObjectsV2 is truncated but has no continuation token");
  }
  return list;
}

}  // namespace stache::storage::internal
