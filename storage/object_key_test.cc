#include "storage/object_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ObjectKeyTest, AcceptsPathLikeKeysFromTheDocumentedCharset) {
  for (const std::string& key : std::vector<std::string>{
           "a", "originals/2026/11/cat.jpg", "A-Z_a-z.0-9", "..hidden", "a/.b/c..",
           "x/y/z", std::string(kMaxKeySegmentBytes, 'k'),
           std::string(kMaxKeySegmentBytes, 'a') + "/" +
               std::string(kMaxKeyBytes - kMaxKeySegmentBytes - 3, 'b') + "/c"}) {
    EXPECT_THAT(ValidateObjectKey(key), IsOk()) << key;
  }
}

TEST(ObjectKeyTest, RejectsTraversalAbsoluteAndEmptySegments) {
  for (const std::string& key :
       std::vector<std::string>{"..", ".", "../x", "a/../b", "a/./b", "a/..",
                                "/etc/passwd", "a//b", "a/", "/"}) {
    EXPECT_THAT(ValidateObjectKey(key),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")))
        << key;
  }
}

TEST(ObjectKeyTest, LimitsEachSegmentToAFileNameLength) {
  EXPECT_THAT(
      ValidateObjectKey("a/" + std::string(kMaxKeySegmentBytes + 1, 's') + "/b"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment of 256 bytes")));
  EXPECT_THAT(ValidateKeyPrefix(std::string(kMaxKeySegmentBytes + 1, 's')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment")));
}

TEST(ObjectKeyTest, RejectsEmptyTooLongAndForeignCharacters) {
  EXPECT_THAT(ValidateObjectKey(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ValidateObjectKey(std::string(kMaxKeyBytes + 1, 'k')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("513 bytes")));
  for (const std::string& key :
       std::vector<std::string>{"a b", "a\\b", "caf\xc3\xa9", "a\nb",
                                std::string("a\0b", 3), "a?b", "a%2e", "a:b", "a*"}) {
    EXPECT_THAT(ValidateObjectKey(key),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("character")))
        << key;
  }
}

TEST(ObjectKeyTest, ErrorMessagesEscapeAndShortenWhatWasRejected) {
  absl::Status status = ValidateObjectKey("bad\nkey" + std::string(400, 'x'));
  EXPECT_THAT(std::string(status.message()), HasSubstr("bad\\nkey"));
  EXPECT_LT(status.message().size(), 200u);
}

TEST(NamespaceTest, AcceptsSimpleNamesAndRejectsTheRest) {
  for (const std::string& ns : std::vector<std::string>{
           "gateway", "a", "team-1.images_v2", std::string(kMaxNamespaceBytes, 'n')}) {
    EXPECT_THAT(ValidateNamespace(ns), IsOk()) << ns;
  }
  for (const std::string& ns : std::vector<std::string>{
           "", ".", "..", "a/b", "a b", std::string(kMaxNamespaceBytes + 1, 'n')}) {
    EXPECT_THAT(ValidateNamespace(ns),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")))
        << ns;
  }
}

TEST(KeyPrefixTest, AllowsPartialLastSegments) {
  for (const std::string& prefix :
       std::vector<std::string>{"", "o", "originals/", "originals/20", "a/.", "a/.."}) {
    EXPECT_THAT(ValidateKeyPrefix(prefix), IsOk()) << prefix;
  }
  for (const std::string& prefix : std::vector<std::string>{
           "/", "../", "a//", "a/../", "a b", std::string(kMaxKeyBytes + 1, 'p')}) {
    EXPECT_THAT(ValidateKeyPrefix(prefix),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")))
        << prefix;
  }
}

TEST(LabelsTest, LimitsCountSizesAndEncoding) {
  EXPECT_THAT(
      ValidateLabels({{"source", "upload"}, {"caption", "caf\xc3\xa9 \xf0\x9f\x98\x80"}}),
      IsOk());
  std::map<std::string, std::string> labels;
  // StrCat, not "l" + std::to_string(i): GCC 12 at -O3 warns falsely
  // (-Wrestrict, GCC bug 105329) inside std::string's operator+.
  for (size_t i = 0; i < kMaxLabels; ++i) labels[absl::StrCat("l", i)] = "v";
  EXPECT_THAT(ValidateLabels(labels), IsOk());
  labels["one-more"] = "v";
  EXPECT_THAT(ValidateLabels(labels),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("17 labels")));
  EXPECT_THAT(ValidateLabels({{"", "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label key")));
  EXPECT_THAT(ValidateLabels({{std::string(kMaxLabelKeyBytes + 1, 'k'), "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label key")));
  EXPECT_THAT(ValidateLabels({{"k y", "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("character")));
  EXPECT_THAT(ValidateLabels({{"k", std::string(kMaxLabelValueBytes, 'v')}}), IsOk());
  EXPECT_THAT(ValidateLabels({{"k", std::string(kMaxLabelValueBytes + 1, 'v')}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value")));
  EXPECT_THAT(ValidateLabels({{"k", "\xc3"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
}

TEST(ContentTypeTest, PrintableAsciiOnly) {
  EXPECT_THAT(ValidateContentType(""), IsOk());
  EXPECT_THAT(ValidateContentType("image/jpeg; charset=binary"), IsOk());
  EXPECT_THAT(ValidateContentType("text/plain\r\nX-Injected: 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("non-printable")));
  EXPECT_THAT(ValidateContentType(std::string(kMaxContentTypeBytes + 1, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("content type")));
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsValidUtf8("\x80"));                                 // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xc3"));                                 // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));                             // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));                         // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));                     // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

}  // namespace
}  // namespace stache::storage
