#include "gateway/gallery.h"

#include <algorithm>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/session.h"
#include "imaging/image_format.h"
#include "server/error_reason.h"
#include "server/log.h"
#include "server/status_macros.h"

namespace stache::gateway {
namespace {

constexpr size_t kImageIdHexDigits = 24;
constexpr size_t kMaxStyleBytes = 64;
// Records are small JSON documents; anything larger was not written by us.
constexpr int64_t kMaxRecordBytes = 4 << 20;
constexpr char kOwnersPrefix[] = "owners/";

double Milliseconds(absl::Duration duration) {
  return absl::ToDoubleMilliseconds(duration);
}

absl::StatusOr<overlay::v1::ImageFormat> ParseOutputFormat(absl::string_view format) {
  const std::string lower = absl::AsciiStrToLower(format);
  if (lower.empty()) return overlay::v1::IMAGE_FORMAT_UNSPECIFIED;
  if (lower == "jpeg" || lower == "jpg") return overlay::v1::IMAGE_FORMAT_JPEG;
  if (lower == "png") return overlay::v1::IMAGE_FORMAT_PNG;
  if (lower == "webp") return overlay::v1::IMAGE_FORMAT_WEBP;
  return absl::InvalidArgumentError(
      absl::StrCat("format '", format, "' is not one of jpeg, png, webp"));
}

absl::Status ValidateStyle(absl::string_view style) {
  if (style.size() > kMaxStyleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("style is longer than ", kMaxStyleBytes, " bytes"));
  }
  for (char c : style) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          "style may contain only letters, digits, '_' and '-' (see GET /v1/styles)");
    }
  }
  return absl::OkStatus();
}

// Whether the overlay keeps `original` when asked for `requested`.
bool KeepsFormat(overlay::v1::ImageFormat requested, imaging::ImageFormat original) {
  switch (requested) {
    case overlay::v1::IMAGE_FORMAT_UNSPECIFIED:
      return true;
    case overlay::v1::IMAGE_FORMAT_JPEG:
      return original == imaging::ImageFormat::kJpeg;
    case overlay::v1::IMAGE_FORMAT_PNG:
      return original == imaging::ImageFormat::kPng;
    case overlay::v1::IMAGE_FORMAT_WEBP:
      return original == imaging::ImageFormat::kWebp;
    default:
      return false;
  }
}

absl::Status NotFoundIfMissing(const absl::Status& status, absl::string_view id) {
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("no image with id '", id, "'"));
  }
  return status;
}

const std::string& KeyFor(ImageVariant variant, const std::string& original,
                          const std::string& result) {
  return variant == ImageVariant::kOriginal ? original : result;
}

}  // namespace

std::string NewImageId() { return RandomHex(kImageIdHexDigits / 2); }

bool IsValidImageId(absl::string_view id) {
  if (id.size() != kImageIdHexDigits) return false;
  for (char c : id) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) || absl::ascii_isupper(c)) {
      return false;
    }
  }
  return true;
}

std::string OriginalKey(absl::string_view id) {
  return absl::StrCat("images/", id, "/original");
}
std::string ResultKey(absl::string_view id) {
  return absl::StrCat("images/", id, "/result");
}
std::string RecordKey(absl::string_view id) {
  return absl::StrCat("records/", id, ".json");
}
std::string OwnerIndexKey(absl::string_view owner_digest, absl::string_view id) {
  return absl::StrCat(kOwnersPrefix, owner_digest, "/", id);
}

absl::StatusOr<std::string> ServedImageType(absl::string_view bytes) {
  absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(bytes);
  if (!header.ok() || header->format == imaging::ImageFormat::kUnknown) {
    return absl::DataLossError(
        absl::StrCat("a stored image is not an image, so it is not served: ",
                     header.ok() ? "unknown format" : header.status().message()));
  }
  return std::string(imaging::ImageFormatMimeType(header->format));
}

Gallery::Gallery(DetectorBackend* detector, OverlayBackend* overlay,
                 StorageBackend* storage, GalleryOptions options, GatewayMetrics* metrics)
    : detector_(detector),
      overlay_(overlay),
      storage_(storage),
      options_(options),
      metrics_(metrics) {}

CallContext Gallery::Call(const server::RequestContext& request_context) const {
  return CallContext::WithTimeout(options_.backend_timeout, request_context);
}

void Gallery::DeleteQuietly(const server::RequestContext& request_context,
                            const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    absl::Status status = storage_->Delete(Call(request_context), key);
    if (!status.ok() && !absl::IsNotFound(status)) {
      server::LogWarning(
          "cannot clean up after a failed upload",
          request_context.WithLogFields({{"key", key}, {"error", status.ToString()}}));
    }
  }
}

absl::StatusOr<UploadResult> Gallery::Upload(
    const server::RequestContext& request_context, UploadRequest request) {
  const absl::Time start = absl::Now();
  absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(request.image);
  if (!header.ok()) {
    return server::WithReason(
        absl::InvalidArgumentError(absl::StrCat(
            "the upload is not an image stache can read: ", header.status().message())),
        server::kReasonNotAnImage);
  }
  STACHE_ASSIGN_OR_RETURN(overlay::v1::ImageFormat output_format,
                          ParseOutputFormat(request.format));
  STACHE_RETURN_IF_ERROR(ValidateStyle(request.style));

  ImageRecord record;
  record.id = NewImageId();
  UploadOwnership ownership = NewUploadOwnership(request.owner_id);
  record.created_at = start;
  record.style = request.style.empty() ? "default" : request.style;
  const std::string& id = record.id;
  // Until everything is written, a failure removes whatever was stored.
  const std::string index_key = ownership.stored.owner_digest.empty()
                                    ? ""
                                    : OwnerIndexKey(ownership.stored.owner_digest, id);
  bool committed = false;
  absl::Cleanup undo = [&] {
    if (committed) return;
    std::vector<std::string> keys = {OriginalKey(id), ResultKey(id), RecordKey(id)};
    if (!index_key.empty()) keys.push_back(index_key);
    DeleteQuietly(request_context, keys);
  };

  // The original is stored while the detector works on it.
  absl::StatusOr<storage::v1::ObjectInfo> original =
      absl::UnknownError("the original was not stored");
  std::thread store_original([&] {
    const absl::Time step = absl::Now();
    original = storage_->Put(Call(request_context), OriginalKey(id),
                             imaging::ImageFormatMimeType(header->format),
                             {{"image_id", id}, {"variant", "original"}}, request.image);
    record.timings.store_original_ms = Milliseconds(absl::Now() - step);
  });
  detector::v1::DetectRequest detect_request;
  detect_request.set_image(request.image);
  absl::Time step = absl::Now();
  absl::StatusOr<detector::v1::DetectResponse> detected =
      detector_->Detect(Call(request_context), detect_request);
  record.timings.detect_ms = Milliseconds(absl::Now() - step);
  store_original.join();
  STACHE_RETURN_IF_ERROR(original.status());
  STACHE_RETURN_IF_ERROR(detected.status());
  if (metrics_ != nullptr)
    metrics_->faces_detected().Increment({}, detected->faces_size());

  record.original = ImageFile{.content_type = original->content_type(),
                              .size_bytes = original->size_bytes(),
                              .sha256_hex = original->sha256_hex(),
                              .width_px = detected->image_width_px(),
                              .height_px = detected->image_height_px()};
  record.faces.assign(detected->faces().begin(), detected->faces().end());

  // Apply runs even without faces, so that a bad style or format is refused
  // the same way whether or not the photo has faces.
  overlay::v1::ApplyRequest apply_request;
  apply_request.mutable_image()->swap(*detect_request.mutable_image());
  *apply_request.mutable_faces() = detected->faces();
  apply_request.set_style(request.style);
  apply_request.set_output_format(output_format);
  step = absl::Now();
  STACHE_ASSIGN_OR_RETURN(overlay::v1::ApplyResponse applied,
                          overlay_->Apply(Call(request_context), apply_request));
  record.timings.apply_ms = Milliseconds(absl::Now() - step);
  record.face_styles.assign(applied.styles_applied().begin(),
                            applied.styles_applied().end());
  if (request.style.empty() && !record.face_styles.empty() &&
      std::all_of(
          record.face_styles.begin(), record.face_styles.end(),
          [&](const std::string& style) { return style == record.face_styles[0]; })) {
    // Name the overlay's default instead of "default", when it drew one.
    record.style = record.face_styles[0];
  }

  UploadResult result;
  std::string result_type;
  if (record.faces.empty() && KeepsFormat(output_format, header->format)) {
    // No face: the result is the original itself, not a re-encoded copy.
    result.result_image = std::move(request.image);
    result_type = record.original.content_type;
  } else {
    result.result_image = std::move(*applied.mutable_image());
    result_type = applied.content_type();
  }
  step = absl::Now();
  STACHE_ASSIGN_OR_RETURN(
      storage::v1::ObjectInfo stored_result,
      storage_->Put(Call(request_context), ResultKey(id), result_type,
                    {{"image_id", id}, {"variant", "result"}}, result.result_image));
  record.timings.store_result_ms = Milliseconds(absl::Now() - step);
  record.result = ImageFile{
      .content_type = stored_result.content_type(),
      .size_bytes = stored_result.size_bytes(),
      .sha256_hex = stored_result.sha256_hex(),
      .width_px = record.faces.empty() ? record.original.width_px : applied.width_px(),
      .height_px =
          record.faces.empty() ? record.original.height_px : applied.height_px()};
  record.timings.total_ms = Milliseconds(absl::Now() - start);
  std::map<std::string, std::string> record_labels = SummaryLabels(record);
  AddOwnershipLabels(ownership.stored, record_labels);
  STACHE_RETURN_IF_ERROR(storage_
                             ->Put(Call(request_context), RecordKey(id),
                                   "application/json", record_labels,
                                   ImageRecordToJson(record).dump())
                             .status());
  // Written last: an image is listed only once everything is stored.
  if (!index_key.empty()) {
    STACHE_RETURN_IF_ERROR(storage_
                               ->Put(Call(request_context), index_key, "text/plain",
                                     SummaryLabels(record), id)
                               .status());
  }
  committed = true;
  result.record = std::move(record);
  result.delete_token = std::move(ownership.delete_token);
  return result;
}

absl::StatusOr<ImageRecord> Gallery::GetRecord(
    const server::RequestContext& request_context, const std::string& id) {
  if (!IsValidImageId(id)) return NotFoundIfMissing(absl::NotFoundError(""), id);
  absl::StatusOr<StoredObject> object =
      storage_->Get(Call(request_context), RecordKey(id), kMaxRecordBytes);
  STACHE_RETURN_IF_ERROR(NotFoundIfMissing(object.status(), id));
  nlohmann::json json =
      nlohmann::json::parse(object->bytes, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::DataLossError(absl::StrCat("stored record of ", id, " is not JSON"));
  }
  return ImageRecordFromJson(json);
}

absl::StatusOr<storage::v1::ObjectInfo> Gallery::StatImage(
    const server::RequestContext& request_context, const std::string& id,
    ImageVariant variant) {
  if (!IsValidImageId(id)) return NotFoundIfMissing(absl::NotFoundError(""), id);
  absl::StatusOr<storage::v1::ObjectInfo> info = storage_->Stat(
      Call(request_context), KeyFor(variant, OriginalKey(id), ResultKey(id)));
  STACHE_RETURN_IF_ERROR(NotFoundIfMissing(info.status(), id));
  return info;
}

absl::StatusOr<StoredObject> Gallery::GetImage(
    const server::RequestContext& request_context, const std::string& id,
    ImageVariant variant) {
  if (!IsValidImageId(id)) return NotFoundIfMissing(absl::NotFoundError(""), id);
  absl::StatusOr<StoredObject> object = storage_->Get(
      Call(request_context), KeyFor(variant, OriginalKey(id), ResultKey(id)),
      options_.max_image_bytes);
  STACHE_RETURN_IF_ERROR(NotFoundIfMissing(object.status(), id));
  absl::StatusOr<std::string> type = ServedImageType(object->bytes);
  if (!type.ok()) {
    return absl::DataLossError(
        absl::StrCat(object->info.key(), ": ", type.status().message()));
  }
  object->info.set_content_type(*type);
  return object;
}

absl::StatusOr<ImagePage> Gallery::List(const server::RequestContext& request_context,
                                        const std::string& owner_id, uint32_t page_size,
                                        const std::string& page_token) {
  if (page_size == 0) page_size = kDefaultPageSize;
  if (page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 1 and ", kMaxPageSize));
  }
  ImagePage page;
  if (owner_id.empty()) return page;
  STACHE_ASSIGN_OR_RETURN(
      storage::v1::ListResponse listed,
      storage_->List(Call(request_context),
                     absl::StrCat(kOwnersPrefix, OwnerDigest(owner_id), "/"), page_size,
                     page_token));
  page.next_page_token = listed.next_page_token();
  for (const storage::v1::ObjectInfo& object : listed.objects()) {
    absl::StatusOr<ImageSummary> summary = SummaryFromObject(object);
    if (!summary.ok()) {
      // One damaged record must not hide the rest of the gallery.
      server::LogWarning(
          "skipping a damaged image record",
          request_context.WithLogFields(
              {{"key", object.key()}, {"error", summary.status().ToString()}}));
      continue;
    }
    page.images.push_back(*std::move(summary));
  }
  return page;
}

absl::Status Gallery::Delete(const server::RequestContext& request_context,
                             const std::string& id,
                             const DeleteCredentials& credentials) {
  if (!IsValidImageId(id)) return NotFoundIfMissing(absl::NotFoundError(""), id);
  absl::StatusOr<storage::v1::ObjectInfo> record =
      storage_->Stat(Call(request_context), RecordKey(id));
  STACHE_RETURN_IF_ERROR(NotFoundIfMissing(record.status(), id));
  const StoredOwnership ownership =
      OwnershipFromLabels(std::map<std::string, std::string>(record->labels().begin(),
                                                             record->labels().end()));
  STACHE_RETURN_IF_ERROR(CheckMayDelete(ownership, credentials));
  std::vector<std::string> keys = {OriginalKey(id), ResultKey(id)};
  if (!ownership.owner_digest.empty())
    keys.push_back(OwnerIndexKey(ownership.owner_digest, id));
  // The record last, so that a failed delete can be retried (and is still
  // authorised by it).
  keys.push_back(RecordKey(id));
  for (const std::string& key : keys) {
    absl::Status status = storage_->Delete(Call(request_context), key);
    if (!status.ok() && !absl::IsNotFound(status)) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StyleSummary>> Gallery::ListStyles(
    const server::RequestContext& request_context) {
  STACHE_ASSIGN_OR_RETURN(overlay::v1::ListStylesResponse listed,
                          overlay_->ListStyles(Call(request_context)));
  std::vector<StyleSummary> styles;
  for (const overlay::v1::Style& style : listed.styles()) {
    styles.push_back({.name = style.name(),
                      .display_name = style.display_name(),
                      .preview_png = style.preview_png()});
  }
  return styles;
}

}  // namespace stache::gateway
