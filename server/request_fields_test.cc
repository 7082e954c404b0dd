#include "server/request_fields.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "server/metrics.h"
#include "server/rpc_observer.h"
#include "stache/detector/v1/detector.pb.h"
#include "stache/overlay/v1/overlay.pb.h"

namespace stache::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// A newer client's DetectOptions: the same fields plus field 9.
std::string WithExtraField(const detector::v1::DetectRequest& request, int number) {
  std::string bytes = request.SerializeAsString();
  // DetectRequest.options (field 2, length-delimited) holding only field
  // `number` as a varint 1.
  const std::string options = {static_cast<char>(number << 3), 1};
  bytes += std::string{static_cast<char>(2 << 3 | 2), static_cast<char>(options.size())};
  bytes += options;
  return bytes;
}

TEST(RequestFieldsTest, AKnownRequestUsesNothingUnusual) {
  detector::v1::DetectRequest request;
  request.set_image("jpeg");
  request.mutable_options()->set_max_faces(3);
  const RequestFieldUsage usage = InspectRequestFields(request);
  EXPECT_THAT(usage.unknown, IsEmpty());
  EXPECT_THAT(usage.deprecated, IsEmpty());
}

TEST(RequestFieldsTest, NamesUnknownFieldsInNestedMessagesOnce) {
  detector::v1::DetectRequest request;
  request.set_image("jpeg");
  detector::v1::DetectRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(WithExtraField(request, 9)));
  EXPECT_THAT(InspectRequestFields(parsed).unknown,
              ElementsAre("stache.detector.v1.DetectOptions.#9"));
}

TEST(RequestFieldsTest, NamesEnumValuesTheSchemaDoesNotKnow) {
  overlay::v1::ApplyRequest request;
  request.set_output_format(static_cast<overlay::v1::ImageFormat>(7));
  request.add_faces()->set_landmark_source(static_cast<detector::v1::LandmarkSource>(9));
  EXPECT_THAT(InspectRequestFields(request).unknown,
              UnorderedElementsAre("stache.overlay.v1.ApplyRequest.output_format=7",
                                   "stache.detector.v1.Face.landmark_source=9"));
}

TEST(RequestFieldsTest, AHostileRequestWithManyUnknownFieldsNamesOnlyAFew) {
  detector::v1::DetectRequest request;
  auto* unknown = request.GetReflection()->MutableUnknownFields(&request);
  for (int i = 0; i < 100'000; ++i) unknown->AddVarint(100 + i, 1);
  EXPECT_EQ(InspectRequestFields(request).unknown.size(), 16u);
}

// Our protos have no deprecated field yet: one is built here.
TEST(RequestFieldsTest, NamesSetDeprecatedFields) {
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(name: "t.proto"
           package: "t"
           syntax: "proto3"
           message_type {
             name: "Request"
             field {
               name: "old"
               number: 1
               type: TYPE_UINT32
               label: LABEL_OPTIONAL
               json_name: "old"
               options { deprecated: true }
             }
             field {
               name: "new"
               number: 2
               type: TYPE_UINT32
               label: LABEL_OPTIONAL
               json_name: "new"
             }
           })pb",
      &file));
  google::protobuf::DescriptorPool pool;
  const google::protobuf::FileDescriptor* descriptor = pool.BuildFile(file);
  ASSERT_NE(descriptor, nullptr);
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> message(
      factory.GetPrototype(descriptor->FindMessageTypeByName("Request"))->New());
  const auto* reflection = message->GetReflection();
  const google::protobuf::Descriptor* type = descriptor->FindMessageTypeByName("Request");
  reflection->SetUInt32(message.get(), type->FindFieldByName("new"), 5);
  EXPECT_THAT(InspectRequestFields(*message).deprecated, IsEmpty());
  reflection->SetUInt32(message.get(), type->FindFieldByName("old"), 5);
  EXPECT_THAT(InspectRequestFields(*message).deprecated, ElementsAre("t.Request.old"));
}

// Clients choose the field labels: past the cap they are counted as "other".
TEST(RequestFieldsTest, FieldLabelsAreCapped) {
  MetricsRegistry registry;
  RpcMetrics metrics(registry);
  RequestFieldUsage usage;
  for (size_t i = 0; i < RpcMetrics::kMaxFieldLabels + 5; ++i) {
    usage.unknown.push_back(absl::StrCat("t.M.#", i + 1));
  }
  metrics.FieldsUsed("t.S", "M", usage);
  metrics.FieldsUsed("t.S", "M", usage);
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("grpc_method=\"M\",field=\"t.M.#1\"} 2"));
  EXPECT_THAT(text, HasSubstr("field=\"other\"} 10"));
  EXPECT_THAT(
      text, Not(HasSubstr(absl::StrCat("t.M.#", RpcMetrics::kMaxFieldLabels + 1, "\""))));
}

}  // namespace
}  // namespace stache::server
