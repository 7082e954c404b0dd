// What the gateway knows about one upload, and its JSON form. The JSON is
// both the REST representation (GET /v1/images/{id}, the POST response) and
// what is stored in records/<id>.json, so they cannot drift apart. Faces use
// the field names of stache.detector.v1.Face (proto JSON, snake_case).
//
//   nlohmann::json json = ImageRecordToJson(record);
//   STACHE_ASSIGN_OR_RETURN(ImageRecord again, ImageRecordFromJson(json));
#ifndef STACHE_GATEWAY_IMAGE_RECORD_H_
#define STACHE_GATEWAY_IMAGE_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "stache/detector/v1/detector.pb.h"
#include "stache/storage/v1/storage.pb.h"

namespace stache::gateway {

// One stored image of an upload.
struct ImageFile {
  std::string content_type;
  uint64_t size_bytes = 0;
  std::string sha256_hex;
  uint32_t width_px = 0;
  uint32_t height_px = 0;
};

// Milliseconds spent in each step of an upload. Storing the original runs in
// parallel with detection, so the steps can add up to more than the total.
struct StepTimings {
  double store_original_ms = 0;
  double detect_ms = 0;
  double apply_ms = 0;
  double store_result_ms = 0;
  double total_ms = 0;
};

struct ImageRecord {
  std::string id;
  absl::Time created_at;
  // The style asked for; when none was, the overlay's default that it drew,
  // or "default" when it drew none.
  std::string style;
  ImageFile original;
  ImageFile result;
  // As the detector returned them, largest first.
  std::vector<detector::v1::Face> faces;
  // The style drawn on each face, parallel to `faces`.
  std::vector<std::string> face_styles;
  StepTimings timings;
};

// What a listing shows of an upload, read from the record's storage labels.
struct ImageSummary {
  std::string id;
  absl::Time created_at;
  std::string style;
  int face_count = 0;
  std::string result_content_type;
};

// REST paths of an upload.
std::string ImageUrl(absl::string_view id);
std::string OriginalUrl(absl::string_view id);
std::string ResultUrl(absl::string_view id);

// RFC 3339 in UTC with milliseconds, e.g. "2026-01-26T09:40:00.123Z".
std::string FormatTimestamp(absl::Time time);
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text);

nlohmann::json ImageRecordToJson(const ImageRecord& record);
// DATA_LOSS when the JSON is not a record this gateway wrote.
absl::StatusOr<ImageRecord> ImageRecordFromJson(const nlohmann::json& json);

// Storage labels of records/<id>.json, and the summary read back from them.
std::map<std::string, std::string> SummaryLabels(const ImageRecord& record);
absl::StatusOr<ImageSummary> SummaryFromObject(const storage::v1::ObjectInfo& object);
nlohmann::json ImageSummaryToJson(const ImageSummary& summary);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_IMAGE_RECORD_H_
