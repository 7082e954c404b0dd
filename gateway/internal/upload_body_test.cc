// The streaming multipart parser and the upload body reader on their own:
// every body is fed whole and in every split (one byte at a time too), so
// that no boundary case depends on how the bytes arrived.
#include "gateway/internal/upload_body.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/internal/http_message.h"
#include "gateway/internal/multipart_parser.h"

namespace stache::gateway::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kLimit = 1 << 20;

std::string Part(const std::string& boundary, const std::string& name,
                 const std::string& value, const std::string& extra = "") {
  return absl::StrCat("--", boundary, "\r\nContent-Disposition: form-data; name=\"", name,
                      "\"", extra, "\r\n\r\n", value, "\r\n");
}

std::string Close(const std::string& boundary) {
  return absl::StrCat("--", boundary, "--\r\n");
}

struct Parsed {
  std::vector<MultipartPart> parts;
  std::vector<std::string> data;
  absl::Status status;
};

// Feeds `body` in pieces of `step` bytes (0: whole).
Parsed Parse(const std::string& boundary, const std::string& body, size_t step) {
  Parsed out;
  MultipartParser parser(boundary, {.on_part =
                                        [&](const MultipartPart& part) {
                                          out.parts.push_back(part);
                                          out.data.emplace_back();
                                          return true;
                                        },
                                    .on_data =
                                        [&](absl::string_view data) {
                                          out.data.back().append(data.data(),
                                                                 data.size());
                                          return true;
                                        }});
  if (step == 0) step = body.size() + 1;
  for (size_t i = 0; i < body.size() && out.status.ok(); i += step) {
    out.status = parser.Feed(absl::string_view(body).substr(i, step));
  }
  if (out.status.ok()) out.status = parser.Finish();
  return out;
}

TEST(MultipartParserTest, PartsAndDataWhateverTheSplit) {
  const std::string body = absl::StrCat(
      "preamble\r\n",
      Part("b0und", "image", "\xff\xd8 data\r\n--b0un not yet", "; filename=\"a;b.jpg\""),
      Part("b0und", "style", "pencil"), Close("b0und"), "epilogue");
  for (size_t step : {0, 1, 2, 3, 7, 16, 64}) {
    SCOPED_TRACE(step);
    Parsed parsed = Parse("b0und", body, step);
    ASSERT_TRUE(parsed.status.ok()) << parsed.status;
    ASSERT_EQ(parsed.parts.size(), 2u);
    EXPECT_EQ(parsed.parts[0].name, "image");
    EXPECT_EQ(parsed.parts[0].filename, "a;b.jpg");
    EXPECT_EQ(parsed.parts[1].name, "style");
    EXPECT_THAT(parsed.data, ElementsAre("\xff\xd8 data\r\n--b0un not yet", "pencil"));
  }
}

TEST(MultipartParserTest, RefusesWhatIsNotAForm) {
  for (const std::string& body :
       {std::string("this is not a multipart body at all"),
        Part("b0und", "image", "no closing delimiter"),
        absl::StrCat("--b0und\r\nContent-Type: text/plain\r\n\r\nx\r\n", Close("b0und")),
        absl::StrCat("--b0und\r\nno colon here\r\n\r\nx\r\n", Close("b0und")),
        absl::StrCat("--b0undxx\r\n"), std::string(4096, 'p')}) {
    for (size_t step : {0, 1, 5}) {
      Parsed parsed = Parse("b0und", body, step);
      EXPECT_EQ(parsed.status.code(), absl::StatusCode::kInvalidArgument) << body;
      EXPECT_THAT(parsed.status.message(), HasSubstr("multipart"));
    }
  }
}

TEST(MultipartParserTest, BoundsHeadersAndParts) {
  const std::string long_header =
      absl::StrCat("--b\r\nContent-Disposition: form-data; name=\"",
                   std::string(10000, 'n'), "\"\r\n\r\n");
  EXPECT_THAT(Parse("b", long_header, 1).status.message(), HasSubstr("longer than"));
  std::string many;
  for (int i = 0; i <= kMaxParts; ++i) many += Part("b", "x", "1");
  many += Close("b");
  EXPECT_THAT(Parse("b", many, 0).status.message(), HasSubstr("more than"));
}

TEST(MultipartParserTest, BoundaryFromContentType) {
  EXPECT_EQ(*BoundaryFromContentType("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*BoundaryFromContentType("multipart/form-data; charset=x; BOUNDARY=\"a b\""),
            "a b");
  EXPECT_FALSE(BoundaryFromContentType("multipart/form-data").ok());
  EXPECT_FALSE(BoundaryFromContentType("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(BoundaryFromContentType(
                   absl::StrCat("multipart/form-data; boundary=", std::string(71, 'a')))
                   .ok());
}

TEST(UploadHeadersTest, RefusesFromTheHeadersAlone) {
  EXPECT_EQ(CheckUploadHeaders(
                {.content_type = "image/jpeg", .content_length = kLimit + 1}, kLimit)
                ->http_status,
            413);
  EXPECT_EQ(
      CheckUploadHeaders({.content_type = "image/jpeg", .content_length = 0}, kLimit)
          ->http_status,
      400);
  EXPECT_EQ(CheckUploadHeaders({.content_type = "image/jpeg"}, kLimit)->http_status, 400);
  EXPECT_EQ(CheckUploadHeaders({.content_type = "text/plain", .chunked = true}, kLimit)
                ->http_status,
            415);
  EXPECT_FALSE(CheckUploadHeaders({.content_type = "image/png", .chunked = true}, kLimit)
                   .has_value());
}

// Feeds a whole body in pieces and finishes.
absl::StatusOr<UploadForm> Read(UploadBodyReader& reader, const std::string& body,
                                size_t step,
                                std::optional<uint64_t> length = std::nullopt) {
  if (!reader.Begin(length)) return reader.refusal()->status;
  for (size_t i = 0; i < body.size(); i += step) {
    if (!reader.Write(absl::string_view(body).substr(i, step)))
      return reader.refusal()->status;
  }
  return reader.Finish();
}

TEST(UploadBodyReaderTest, MultipartFormFieldsAndRawBodies) {
  BodyMemoryBudget budget(10 * kLimit);
  const std::string body =
      absl::StrCat(Part("xyz", "image", "IMAGE"), Part("xyz", "style", "s"),
                   Part("xyz", "format", "png"), Close("xyz"));
  for (size_t step : {1, 3, 1000}) {
    UploadBodyReader reader("multipart/form-data; boundary=xyz", kLimit, &budget);
    absl::StatusOr<UploadForm> form = Read(reader, body, step);
    ASSERT_TRUE(form.ok()) << form.status();
    EXPECT_EQ(form->image, "IMAGE");
    EXPECT_EQ(form->style, "s");
    EXPECT_EQ(form->format, "png");
  }
  UploadBodyReader raw("image/jpeg", kLimit, &budget);
  absl::StatusOr<UploadForm> form = Read(raw, "RAW", 1, 3);
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->image, "RAW");
}

TEST(UploadBodyReaderTest, RefusalsSayWhyWithTheirHttpStatus) {
  BodyMemoryBudget budget(10 * kLimit);
  auto refusal = [&](const std::string& type, const std::string& body) {
    UploadBodyReader reader(type, kLimit, &budget);
    absl::StatusOr<UploadForm> form = Read(reader, body, 4096);
    EXPECT_FALSE(form.ok());
    return reader.refusal().value_or(HttpRefusal{0, absl::OkStatus()});
  };
  EXPECT_EQ(refusal("image/jpeg", std::string(kLimit + 1, 'x')).http_status, 413);
  EXPECT_EQ(refusal("image/jpeg", "").http_status, 400);
  EXPECT_EQ(refusal("multipart/form-data", "x").http_status, 400);
  HttpRefusal twice =
      refusal("multipart/form-data; boundary=b",
              Part("b", "image", "1") + Part("b", "image", "2") + Close("b"));
  EXPECT_EQ(twice.http_status, 400);
  EXPECT_THAT(twice.status.message(), HasSubstr("'image' must appear once"));
  HttpRefusal no_image =
      refusal("multipart/form-data; boundary=b", Part("b", "style", "x") + Close("b"));
  EXPECT_THAT(no_image.status.message(), HasSubstr("no 'image' field"));
  HttpRefusal long_field =
      refusal("multipart/form-data; boundary=b",
              Part("b", "style", std::string(300, 's')) + Close("b"));
  EXPECT_THAT(long_field.status.message(), HasSubstr("limited to"));
}

TEST(UploadBodyReaderTest, MemoryIsReservedFromTheBudgetAndGivenBack) {
  BodyMemoryBudget budget(kLimit);
  {
    UploadBodyReader first("image/jpeg", kLimit, &budget);
    ASSERT_TRUE(first.Begin(kLimit - 10));
    EXPECT_GE(budget.used(), kLimit - 10);
    // A second upload does not fit beside the first: 503, nothing held.
    UploadBodyReader second("image/jpeg", kLimit, &budget);
    EXPECT_FALSE(second.Begin(1000));
    EXPECT_EQ(second.refusal()->http_status, 503);
  }
  EXPECT_EQ(budget.used(), 0);
  {
    // A chunked body grows its reservation as it arrives.
    UploadBodyReader chunked("image/jpeg", kLimit, &budget);
    ASSERT_TRUE(chunked.Begin(std::nullopt));
    ASSERT_TRUE(chunked.Write(std::string(200'000, 'c')));
    EXPECT_GE(budget.used(), 200'000);
    EXPECT_LE(budget.used(), kLimit);
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(HttpMessageTest, TargetsDecodeLikeOtherServers) {
  HttpRequest request{
      .target = "/v1/images/..%2F..%2Fetc?style=a+b&format=%70ng&x&page_token=%zz"};
  ParseTarget(request);
  EXPECT_EQ(request.path, "/v1/images/../../etc");
  EXPECT_EQ(request.ParamValue("style"), "a b");
  EXPECT_EQ(request.ParamValue("format"), "png");
  EXPECT_TRUE(request.HasParam("x"));
  EXPECT_EQ(request.ParamValue("page_token"), "%zz");
  request.headers = {{"content-TYPE", "image/png"}};
  EXPECT_EQ(request.HeaderValue("Content-Type"), "image/png");
}

}  // namespace
}  // namespace stache::gateway::internal
