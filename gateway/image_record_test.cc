#include "gateway/image_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

ImageRecord SampleRecord() {
  ImageRecord record;
  record.id = "0123456789abcdef01234567";
  record.created_at = absl::FromUnixMillis(1'780'000'000'123);
  record.style = "handlebar";
  record.original = {.content_type = "image/jpeg",
                     .size_bytes = 1000,
                     .sha256_hex = "aa",
                     .width_px = 512,
                     .height_px = 600};
  record.result = {.content_type = "image/jpeg",
                   .size_bytes = 1100,
                   .sha256_hex = "bb",
                   .width_px = 512,
                   .height_px = 600};
  detector::v1::Face face;
  face.mutable_bounding_box()->set_x_px(10);
  face.mutable_bounding_box()->set_width_px(100.5f);
  face.set_confidence(0.75f);
  face.mutable_landmarks()->mutable_nose_base()->set_y_px(42);
  face.set_landmark_source(detector::v1::LANDMARK_SOURCE_SHAPE_PREDICTOR_68);
  record.faces.push_back(face);
  record.face_styles.push_back("handlebar");
  record.timings = {.store_original_ms = 1,
                    .detect_ms = 2,
                    .apply_ms = 3,
                    .store_result_ms = 4,
                    .total_ms = 9};
  return record;
}

TEST(ImageRecordTest, JsonHasTheFieldsTheApiPromises) {
  nlohmann::json json = ImageRecordToJson(SampleRecord());
  EXPECT_EQ(json["id"], "0123456789abcdef01234567");
  EXPECT_EQ(json["created_at"], "2026-05-28T20:26:40.123Z");
  EXPECT_EQ(json["style"], "handlebar");
  EXPECT_EQ(json["original_url"], "/v1/images/0123456789abcdef01234567/original");
  EXPECT_EQ(json["result_url"], "/v1/images/0123456789abcdef01234567/result");
  EXPECT_EQ(json["faces"][0]["bounding_box"]["width_px"], 100.5);
  EXPECT_EQ(json["faces"][0]["confidence"], 0.75);
  EXPECT_EQ(json["faces"][0]["landmarks"]["nose_base"]["y_px"], 42);
  EXPECT_EQ(json["faces"][0]["landmark_source"], "LANDMARK_SOURCE_SHAPE_PREDICTOR_68");
  EXPECT_EQ(json["faces"][0]["style"], "handlebar");
  EXPECT_EQ(json["timings_ms"]["detect"], 2);
  EXPECT_EQ(json["timings_ms"]["total"], 9);
  EXPECT_EQ(json["result"]["sha256"], "bb");
}

TEST(ImageRecordTest, RoundTripsThroughJson) {
  const ImageRecord record = SampleRecord();
  absl::StatusOr<ImageRecord> again = ImageRecordFromJson(ImageRecordToJson(record));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(ImageRecordToJson(*again), ImageRecordToJson(record));
  EXPECT_EQ(again->created_at, record.created_at);
  EXPECT_EQ(again->faces[0].landmark_source(),
            detector::v1::LANDMARK_SOURCE_SHAPE_PREDICTOR_68);
}

TEST(ImageRecordTest, MalformedStoredJsonIsDataLoss) {
  EXPECT_THAT(ImageRecordFromJson(nlohmann::json::parse(R"({"id": 3})")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("malformed")));
  nlohmann::json bad_face = ImageRecordToJson(SampleRecord());
  bad_face["faces"][0]["confidence"] = "very";
  EXPECT_THAT(ImageRecordFromJson(bad_face),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("Face")));
}

TEST(ImageRecordTest, SummaryComesBackFromStorageLabels) {
  const ImageRecord record = SampleRecord();
  storage::v1::ObjectInfo object;
  object.set_key("records/0123456789abcdef01234567.json");
  for (const auto& [key, value] : SummaryLabels(record))
    (*object.mutable_labels())[key] = value;
  EXPECT_LE(object.labels().size(), 16);
  absl::StatusOr<ImageSummary> summary = SummaryFromObject(object);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->id, record.id);
  EXPECT_EQ(summary->face_count, 1);
  EXPECT_EQ(summary->style, "handlebar");
  EXPECT_EQ(summary->created_at, record.created_at);
  nlohmann::json json = ImageSummaryToJson(*summary);
  EXPECT_EQ(json["result_url"], "/v1/images/0123456789abcdef01234567/result");
  EXPECT_EQ(json["face_count"], 1);

  object.mutable_labels()->erase("created_at");
  EXPECT_THAT(SummaryFromObject(object),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("labels")));
}

TEST(ImageRecordTest, TimestampsAreRfc3339Utc) {
  absl::Time time = absl::FromUnixMillis(1'700'000'000'007);
  EXPECT_EQ(FormatTimestamp(time), "2023-11-14T22:13:20.007Z");
  EXPECT_THAT(ParseTimestamp("2023-11-14T22:13:20.007Z"),
              stache::testing::IsOkAndHolds(time));
  EXPECT_THAT(ParseTimestamp("yesterday"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestamp")));
}

}  // namespace
}  // namespace stache::gateway
