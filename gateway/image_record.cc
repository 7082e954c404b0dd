#include "gateway/image_record.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace stache::gateway {
namespace {

using ::nlohmann::json;

json FileToJson(const ImageFile& file) {
  return {{"content_type", file.content_type},
          {"size_bytes", file.size_bytes},
          {"sha256", file.sha256_hex},
          {"width_px", file.width_px},
          {"height_px", file.height_px}};
}

ImageFile FileFromJson(const json& object) {
  return ImageFile{.content_type = object.at("content_type").get<std::string>(),
                   .size_bytes = object.at("size_bytes").get<uint64_t>(),
                   .sha256_hex = object.at("sha256").get<std::string>(),
                   .width_px = object.at("width_px").get<uint32_t>(),
                   .height_px = object.at("height_px").get<uint32_t>()};
}

json FaceToJson(const detector::v1::Face& face, const std::string& style) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  // Printing a message the process built cannot fail.
  (void)google::protobuf::util::MessageToJsonString(face, &text, options);
  json out = json::parse(text);
  out["style"] = style;
  return out;
}

absl::StatusOr<detector::v1::Face> FaceFromJson(json face_json) {
  face_json.erase("style");
  detector::v1::Face face;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(face_json.dump(), &face, options);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored face is not a Face: ", status.ToString()));
  }
  return face;
}

}  // namespace

std::string ImageUrl(absl::string_view id) { return absl::StrCat("/v1/images/", id); }
std::string OriginalUrl(absl::string_view id) {
  return absl::StrCat(ImageUrl(id), "/original");
}
std::string ResultUrl(absl::string_view id) {
  return absl::StrCat(ImageUrl(id), "/result");
}

std::string FormatTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", text, absl::UTCTimeZone(), &time,
                       &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad timestamp '", text, "': ", error));
  }
  return time;
}

json ImageRecordToJson(const ImageRecord& record) {
  json faces = json::array();
  for (size_t i = 0; i < record.faces.size(); ++i) {
    faces.push_back(FaceToJson(
        record.faces[i], i < record.face_styles.size() ? record.face_styles[i] : ""));
  }
  return {{"id", record.id},
          {"created_at", FormatTimestamp(record.created_at)},
          {"style", record.style},
          {"faces", std::move(faces)},
          {"original", FileToJson(record.original)},
          {"result", FileToJson(record.result)},
          {"url", ImageUrl(record.id)},
          {"original_url", OriginalUrl(record.id)},
          {"result_url", ResultUrl(record.id)},
          {"timings_ms",
           {{"store_original", record.timings.store_original_ms},
            {"detect", record.timings.detect_ms},
            {"apply", record.timings.apply_ms},
            {"store_result", record.timings.store_result_ms},
            {"total", record.timings.total_ms}}}};
}

absl::StatusOr<ImageRecord> ImageRecordFromJson(const json& record_json) {
  try {
    ImageRecord record;
    record.id = record_json.at("id").get<std::string>();
    absl::StatusOr<absl::Time> created_at =
        ParseTimestamp(record_json.at("created_at").get<std::string>());
    if (!created_at.ok()) return absl::DataLossError(created_at.status().message());
    record.created_at = *created_at;
    record.style = record_json.at("style").get<std::string>();
    record.original = FileFromJson(record_json.at("original"));
    record.result = FileFromJson(record_json.at("result"));
    for (const json& face_json : record_json.at("faces")) {
      absl::StatusOr<detector::v1::Face> face = FaceFromJson(face_json);
      if (!face.ok()) return face.status();
      record.faces.push_back(*std::move(face));
      record.face_styles.push_back(face_json.value("style", ""));
    }
    const json& timings = record_json.at("timings_ms");
    record.timings =
        StepTimings{.store_original_ms = timings.at("store_original").get<double>(),
                    .detect_ms = timings.at("detect").get<double>(),
                    .apply_ms = timings.at("apply").get<double>(),
                    .store_result_ms = timings.at("store_result").get<double>(),
                    .total_ms = timings.at("total").get<double>()};
    return record;
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("stored image record is malformed: ", e.what()));
  }
}

std::map<std::string, std::string> SummaryLabels(const ImageRecord& record) {
  return {{"id", record.id},
          {"created_at", FormatTimestamp(record.created_at)},
          {"style", record.style},
          {"faces", absl::StrCat(record.faces.size())},
          {"result_content_type", record.result.content_type}};
}

absl::StatusOr<ImageSummary> SummaryFromObject(const storage::v1::ObjectInfo& object) {
  const auto& labels = object.labels();
  auto label = [&](const char* name) -> std::string {
    auto it = labels.find(name);
    return it == labels.end() ? "" : it->second;
  };
  ImageSummary summary;
  summary.id = label("id");
  summary.style = label("style");
  summary.result_content_type = label("result_content_type");
  absl::StatusOr<absl::Time> created_at = ParseTimestamp(label("created_at"));
  if (summary.id.empty() || !created_at.ok() ||
      !absl::SimpleAtoi(label("faces"), &summary.face_count)) {
    return absl::DataLossError(
        absl::StrCat("stored record ", object.key(), " lacks its summary labels"));
  }
  summary.created_at = *created_at;
  return summary;
}

json ImageSummaryToJson(const ImageSummary& summary) {
  return {{"id", summary.id},
          {"created_at", FormatTimestamp(summary.created_at)},
          {"style", summary.style},
          {"face_count", summary.face_count},
          {"result_content_type", summary.result_content_type},
          {"url", ImageUrl(summary.id)},
          {"original_url", OriginalUrl(summary.id)},
          {"result_url", ResultUrl(summary.id)}};
}

}  // namespace stache::gateway
