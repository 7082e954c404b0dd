#include "server/request_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <set>

#include "absl/strings/str_cat.h"

namespace stache::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

class Walker final {
 public:
  void Visit(const Message& message) {
    const Reflection* reflection = message.GetReflection();
    const google::protobuf::UnknownFieldSet& unknown =
        reflection->GetUnknownFields(message);
    for (int i = 0; i < unknown.field_count() && usage_.unknown.size() < kMaxNamesPerKind;
         ++i) {
      Add(unknown_seen_, usage_.unknown,
          absl::StrCat(message.GetDescriptor()->full_name(), ".#",
                       unknown.field(i).number()));
    }
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);
    for (const FieldDescriptor* field : fields) {
      if (field->options().deprecated()) {
        Add(deprecated_seen_, usage_.deprecated, field->full_name());
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) VisitEnum(message, field);
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          Visit(reflection->GetRepeatedMessage(message, field, i));
        }
      } else {
        Visit(reflection->GetMessage(message, field));
      }
    }
  }

  RequestFieldUsage Result() && { return std::move(usage_); }

 private:
  // proto3 keeps an enum value it does not know in the field itself, not
  // among the unknown fields.
  void VisitEnum(const Message& message, const FieldDescriptor* field) {
    const Reflection* reflection = message.GetReflection();
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const int value = field->is_repeated()
                            ? reflection->GetRepeatedEnumValue(message, field, i)
                            : reflection->GetEnumValue(message, field);
      if (field->enum_type()->FindValueByNumber(value) == nullptr) {
        Add(unknown_seen_, usage_.unknown, absl::StrCat(field->full_name(), "=", value));
      }
    }
  }

  // A hostile request can carry millions of unknown fields: a handful of
  // names is enough to see who sends what.
  static constexpr size_t kMaxNamesPerKind = 16;

  static void Add(std::set<std::string>& seen, std::vector<std::string>& list,
                  std::string name) {
    if (list.size() >= kMaxNamesPerKind) return;
    if (seen.insert(name).second) list.push_back(std::move(name));
  }

  RequestFieldUsage usage_;
  std::set<std::string> unknown_seen_;
  std::set<std::string> deprecated_seen_;
};

}  // namespace

RequestFieldUsage InspectRequestFields(const Message& message) {
  Walker walker;
  walker.Visit(message);
  return std::move(walker).Result();
}

}  // namespace stache::server
