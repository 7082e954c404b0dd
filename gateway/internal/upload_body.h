// The body of an upload (POST /v1/images), judged and read as it arrives:
// CheckUploadHeaders answers what the headers alone decide (size, media
// type, encoding) before any byte of the body is read; UploadBodyReader
// takes the body in pieces of any size, through the streaming multipart
// parser or as the raw image, and never holds more than the limit or more
// than the process-wide BodyMemoryBudget allows. No HTTP library types: the
// transport feeds it bytes (gateway/http_server.cc), the fuzzer too.
//
//   BodyMemoryBudget budget(200'000'000);
//   UploadBodyReader reader("image/jpeg", 20'000'000, &budget);
//   reader.Begin(content_length);
//   while (...) if (!reader.Write(piece)) break;   // reader.refusal() says why
//   absl::StatusOr<UploadForm> form = reader.Finish();
#ifndef STACHE_GATEWAY_INTERNAL_UPLOAD_BODY_H_
#define STACHE_GATEWAY_INTERNAL_UPLOAD_BODY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/internal/multipart_parser.h"

namespace stache::gateway::internal {

// Form fields other than the image are a few bytes; more is not a form we
// understand.
inline constexpr size_t kMaxFormFieldBytes = 256;

// An HTTP-level refusal: the status code only HTTP can give (400, 413, 415,
// 429, 503) and the status saying why in gRPC terms.
struct HttpRefusal {
  int http_status;
  absl::Status status;
  // For 429 and 503: when to try again (Retry-After); zero means a second.
  absl::Duration retry_after = absl::ZeroDuration();
};

// The parts of an upload request, however it was sent.
struct UploadForm {
  std::string image;
  std::string style;
  std::string format;
};

// Bytes of request bodies held in memory by the whole process, so that many
// large uploads at once (or many clients pretending to send one) cost
// bounded memory. Thread-safe.
class BodyMemoryBudget final {
 public:
  explicit BodyMemoryBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  // False (and nothing reserved) when `bytes` more would pass the limit.
  bool TryReserve(int64_t bytes);
  void Release(int64_t bytes);
  int64_t used() const { return used_.load(); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

// What the headers of an upload say about its body.
struct UploadHeaders {
  std::string content_type;
  std::optional<uint64_t> content_length;  // absent when chunked or unframed
  bool chunked = false;
};

// Refuses from the headers alone: no body (400), empty body (400), too large
// (413), not an image or form (415). nullopt when the body is worth reading.
std::optional<HttpRefusal> CheckUploadHeaders(const UploadHeaders& headers,
                                              int64_t max_body_bytes);

// 413 for a body over `max_body_bytes`.
HttpRefusal BodyTooLarge(int64_t max_body_bytes);

// Not thread-safe; one per request. Holds its memory reservation until
// destroyed, so keep it alive while the form it produced is in use.
class UploadBodyReader final {
 public:
  // `content_type` decides multipart or raw; `budget` must outlive this.
  UploadBodyReader(absl::string_view content_type, int64_t max_body_bytes,
                   BodyMemoryBudget* budget);
  ~UploadBodyReader();
  UploadBodyReader(const UploadBodyReader&) = delete;
  UploadBodyReader& operator=(const UploadBodyReader&) = delete;

  // The body is about to come; its length when the client said
  // (Content-Length), so memory is reserved once. False when refused.
  bool Begin(std::optional<uint64_t> content_length);
  // The next bytes; false when the body is refused (see refusal()) and no
  // more should be read.
  bool Write(absl::string_view data);
  // The body is complete: the form, or the refusal's status.
  absl::StatusOr<UploadForm> Finish();

  // Why the body was refused, once Begin, Write or Finish said so.
  const std::optional<HttpRefusal>& refusal() const { return refusal_; }

 private:
  bool Refuse(int http_status, absl::Status status);
  // Appends to `field`, growing the image within the limit and the budget.
  bool Append(std::string* field, absl::string_view data);
  bool GrowImage(size_t needed);

  const int64_t max_body_bytes_;
  BodyMemoryBudget* const budget_;
  std::unique_ptr<MultipartParser> multipart_;  // null for a raw image body
  absl::Status content_type_error_;             // a multipart type without a boundary
  UploadForm form_;
  std::string* field_ = nullptr;  // where the current part's bytes go
  std::string ignored_;           // parts of no interest
  bool have_image_ = false;
  int64_t received_ = 0;
  int64_t reserved_ = 0;
  std::optional<HttpRefusal> refusal_;
};

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_UPLOAD_BODY_H_
