#include "gateway/internal/upload_body.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace stache::gateway::internal {
namespace {

// The first allocation for a body of unknown length (chunked).
constexpr size_t kInitialImageCapacity = 64 * 1024;

std::string MediaType(absl::string_view content_type) {
  return absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';'))));
}

bool IsMultipart(absl::string_view content_type) {
  return MediaType(content_type) == "multipart/form-data";
}

bool IsAcceptedUploadType(absl::string_view content_type) {
  const std::string type = MediaType(content_type);
  return type == "multipart/form-data" || absl::StartsWith(type, "image/") ||
         type == "application/octet-stream";
}

HttpRefusal BadForm() {
  return {400, absl::InvalidArgumentError(absl::StrCat(
                   "malformed upload form: 'image' must appear once and other fields are "
                   "limited to ",
                   kMaxFormFieldBytes, " bytes"))};
}

}  // namespace

bool BodyMemoryBudget::TryReserve(int64_t bytes) {
  int64_t used = used_.load();
  do {
    if (used + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return true;
}

void BodyMemoryBudget::Release(int64_t bytes) { used_.fetch_sub(bytes); }

HttpRefusal BodyTooLarge(int64_t max_body_bytes) {
  return {413, absl::ResourceExhaustedError(absl::StrCat(
                   "the upload is larger than the limit of ", max_body_bytes, " bytes"))};
}

std::optional<HttpRefusal> CheckUploadHeaders(const UploadHeaders& headers,
                                              int64_t max_body_bytes) {
  if (headers.content_length.has_value()) {
    if (*headers.content_length > static_cast<uint64_t>(max_body_bytes)) {
      return BodyTooLarge(max_body_bytes);
    }
    if (*headers.content_length == 0) {
      return HttpRefusal{400,
                         absl::InvalidArgumentError("the request has an empty body")};
    }
  } else if (!headers.chunked) {
    return HttpRefusal{
        400, absl::InvalidArgumentError(
                 "the request has no body: send the photo as multipart/form-data (field "
                 "'image') or as an image/* body")};
  }
  if (!IsAcceptedUploadType(headers.content_type)) {
    return HttpRefusal{
        415, absl::InvalidArgumentError(absl::StrCat(
                 "Content-Type '", headers.content_type,
                 "' is not accepted: send multipart/form-data with the photo in field "
                 "'image', or the photo itself as image/*"))};
  }
  return std::nullopt;
}

UploadBodyReader::UploadBodyReader(absl::string_view content_type, int64_t max_body_bytes,
                                   BodyMemoryBudget* budget)
    : max_body_bytes_(max_body_bytes), budget_(budget) {
  if (!IsMultipart(content_type)) {
    field_ = &form_.image;
    have_image_ = true;
    return;
  }
  absl::StatusOr<std::string> boundary = BoundaryFromContentType(content_type);
  if (!boundary.ok()) {
    content_type_error_ = boundary.status();
    return;
  }
  multipart_ = std::make_unique<MultipartParser>(
      *boundary,
      MultipartParser::Callbacks{
          .on_part =
              [this](const MultipartPart& part) {
                if (part.name == "image") {
                  if (have_image_) return Refuse(BadForm().http_status, BadForm().status);
                  have_image_ = true;
                  field_ = &form_.image;
                } else if (part.name == "style") {
                  field_ = &form_.style;
                } else if (part.name == "format") {
                  field_ = &form_.format;
                } else {
                  ignored_.clear();
                  field_ = &ignored_;
                }
                return true;
              },
          .on_data = [this](absl::string_view data) { return Append(field_, data); }});
}

UploadBodyReader::~UploadBodyReader() {
  if (reserved_ > 0) budget_->Release(reserved_);
}

bool UploadBodyReader::Refuse(int http_status, absl::Status status) {
  if (!refusal_.has_value()) refusal_ = HttpRefusal{http_status, std::move(status)};
  return false;
}

bool UploadBodyReader::GrowImage(size_t needed) {
  std::string& image = form_.image;
  if (needed <= image.capacity()) return true;
  // libstdc++ at least doubles a string's capacity when it grows; reserve
  // that much from the budget and account for what was really allocated.
  const size_t limit = static_cast<size_t>(max_body_bytes_);
  const size_t wanted = std::max(
      needed, std::min(limit, std::max(kInitialImageCapacity, 2 * image.capacity())));
  const int64_t worst = static_cast<int64_t>(std::max(wanted, 2 * image.capacity()));
  if (worst > reserved_ && !budget_->TryReserve(worst - reserved_)) {
    return Refuse(
        503, absl::UnavailableError(
                 "the gateway is receiving too many uploads at once; retry shortly"));
  }
  reserved_ = std::max(reserved_, worst);
  image.reserve(wanted);
  const int64_t actual = static_cast<int64_t>(image.capacity());
  if (actual < reserved_) {
    budget_->Release(reserved_ - actual);
    reserved_ = actual;
  }
  return true;
}

bool UploadBodyReader::Append(std::string* field, absl::string_view data) {
  if (field != &form_.image) {
    if (field->size() + data.size() > kMaxFormFieldBytes) {
      return Refuse(BadForm().http_status, BadForm().status);
    }
    field->append(data.data(), data.size());
    return true;
  }
  if (!GrowImage(field->size() + data.size())) return false;
  field->append(data.data(), data.size());
  return true;
}

bool UploadBodyReader::Begin(std::optional<uint64_t> content_length) {
  if (refusal_.has_value()) return false;
  if (!content_type_error_.ok()) return Refuse(400, content_type_error_);
  if (content_length.has_value()) {
    if (*content_length > static_cast<uint64_t>(max_body_bytes_)) {
      const HttpRefusal too_large = BodyTooLarge(max_body_bytes_);
      return Refuse(too_large.http_status, too_large.status);
    }
    // The image is (nearly) all of the body: allocate once.
    return GrowImage(static_cast<size_t>(*content_length));
  }
  return true;
}

bool UploadBodyReader::Write(absl::string_view data) {
  if (refusal_.has_value()) return false;
  if (!content_type_error_.ok()) return Refuse(400, content_type_error_);
  received_ += static_cast<int64_t>(data.size());
  if (received_ > max_body_bytes_) {
    const HttpRefusal too_large = BodyTooLarge(max_body_bytes_);
    return Refuse(too_large.http_status, too_large.status);
  }
  if (multipart_ == nullptr) return Append(&form_.image, data);
  absl::Status status = multipart_->Feed(data);
  if (status.ok()) return true;
  // A callback's own refusal is already recorded; else the syntax is wrong.
  return Refuse(400, std::move(status));
}

absl::StatusOr<UploadForm> UploadBodyReader::Finish() {
  if (!refusal_.has_value() && !content_type_error_.ok())
    Refuse(400, content_type_error_);
  if (!refusal_.has_value() && multipart_ != nullptr) {
    if (absl::Status status = multipart_->Finish(); !status.ok()) Refuse(400, status);
  }
  if (!refusal_.has_value() && !have_image_) {
    Refuse(400,
           absl::InvalidArgumentError("the form has no 'image' field with the photo"));
  }
  if (!refusal_.has_value() && form_.image.empty()) {
    Refuse(400, absl::InvalidArgumentError("the uploaded image is empty"));
  }
  if (refusal_.has_value()) return refusal_->status;
  return std::move(form_);
}

}  // namespace stache::gateway::internal
