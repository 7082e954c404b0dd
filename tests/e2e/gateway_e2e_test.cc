// End to end: the real stache-storage, stache-detector, stache-overlay and
// stache-gateway binaries on free loopback ports with a temporary data
// directory, driven over HTTP like a user (and curl) would: a real photo in,
// faces and a mustached photo out, every endpoint, every error, and a
// backend killed and restarted mid-test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/testing/raw_connection.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::nlohmann::json;
using ::stache::gateway::testing::RawConnection;
using ::stache::gateway::testing::UploadHeaders;
using ::stache::testing::MakeTempDir;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::stache::testing::WaitFor;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Uploads larger than this get 413; astronaut.png (791 kB) is one.
constexpr int64_t kMaxBodyBytes = 600'000;

// Lower-case hex SHA-256 of some bytes, by coreutils.
std::string Sha256Of(const std::string& bytes) {
  const std::string path = MakeTempDir() + "/bytes";
  std::ofstream(path, std::ios::binary) << bytes;
  stache::testing::CommandResult result = RunCommand({"/usr/bin/sha256sum", path});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return result.output.substr(0, result.output.find(' '));
}

class GatewayEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<e2e::ServiceStack>(kMaxBodyBytes);
    ASSERT_TRUE(stack_->WaitUntilReady()) << stack_->Get("/readyz").second << stack_->Logs();
    grace_hopper_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  }

  // Uploads Grace Hopper; the JSON answer.
  json UploadGraceHopper(const std::string& style = "handlebar") {
    httplib::Result response = stack_->Upload(grace_hopper_, style);
    EXPECT_TRUE(response);
    if (!response) return json();
    EXPECT_EQ(response->status, 201) << response->body << stack_->Logs();
    return json::parse(response->body, nullptr, false);
  }

  std::unique_ptr<e2e::ServiceStack> stack_;
  std::string grace_hopper_;
};

TEST_F(GatewayEndToEndTest, QuickStartWithCurlPutsAMustacheOnGraceHopper) {
  stache::testing::CommandResult curl = RunCommand(
      {"/usr/bin/curl", "-sS", "-w", "\n%{http_code}", "-F",
       "image=@" + TestDataPath("grace_hopper.jpg"), stack_->url() + "/v1/images"});
  ASSERT_EQ(curl.exit_code, 0) << curl.output;
  const size_t last_line = curl.output.rfind('\n');
  EXPECT_EQ(curl.output.substr(last_line + 1), "201");
  json body = json::parse(curl.output.substr(0, last_line), nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << curl.output;
  EXPECT_EQ(body["faces"].size(), 1u) << body.dump(2);
  EXPECT_EQ(body["style"], body["faces"][0]["style"]) << "the overlay's default, by name";
  EXPECT_THAT(body["result_url"].get<std::string>(), StartsWith("/v1/images/"));
}

TEST_F(GatewayEndToEndTest, UploadFindsTheFaceAndDrawsTheMustache) {
  json record = UploadGraceHopper();
  ASSERT_EQ(record["faces"].size(), 1u) << record.dump(2);
  const json& face = record["faces"][0];
  EXPECT_EQ(record["original"]["width_px"], 512);
  EXPECT_EQ(record["original"]["height_px"], 600);
  const json& box = face["bounding_box"];
  EXPECT_GT(box["width_px"].get<double>(), 100);
  EXPECT_LE(box["x_px"].get<double>() + box["width_px"].get<double>(), 512);
  EXPECT_LE(box["y_px"].get<double>() + box["height_px"].get<double>(), 600);
  EXPECT_GT(face["confidence"].get<double>(), 0);
  EXPECT_LE(face["confidence"].get<double>(), 1);
  const json& landmarks = face["landmarks"];
  // Eyes above the nose, the nose above the lip: the philtrum a mustache needs.
  EXPECT_LT(landmarks["left_eye_center"]["y_px"].get<double>(),
            landmarks["nose_base"]["y_px"].get<double>());
  EXPECT_LT(landmarks["nose_base"]["y_px"].get<double>(),
            landmarks["upper_lip_top"]["y_px"].get<double>());
  EXPECT_EQ(face["style"], "handlebar");
  EXPECT_EQ(record["style"], "handlebar");
  EXPECT_GT(record["timings_ms"]["detect"].get<double>(), 0);
  EXPECT_GT(record["timings_ms"]["apply"].get<double>(), 0);

  const std::string id = record["id"];
  auto [original_status, original] = stack_->Get("/v1/images/" + id + "/original");
  EXPECT_EQ(original_status, 200);
  EXPECT_EQ(original, grace_hopper_);

  httplib::Result result = stack_->Client()->Get("/v1/images/" + id + "/result");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_THAT(result->body, StartsWith("\xff\xd8\xff"));
  EXPECT_NE(result->body, grace_hopper_);
  EXPECT_EQ(record["result"]["width_px"], 512);
  // The ETag is the SHA-256 of exactly the bytes served.
  const std::string sha256 = Sha256Of(result->body);
  EXPECT_EQ(result->get_header_value("ETag"), "\"" + sha256 + "\"");
  EXPECT_EQ(record["result"]["sha256"], sha256);
  EXPECT_THAT(result->get_header_value("Cache-Control"), HasSubstr("immutable"));
  EXPECT_EQ(stack_->Get("/v1/images/" + id + "/result", {{"If-None-Match", "\"" + sha256 + "\""}})
                .first,
            304);
}

TEST_F(GatewayEndToEndTest, EveryEndpoint) {
  json first = UploadGraceHopper("pencil");
  json second = UploadGraceHopper();
  const std::string id = second["id"];

  auto [record_status, record] = stack_->Get("/v1/images/" + id);
  EXPECT_EQ(record_status, 200);
  EXPECT_EQ(json::parse(record), second);

  auto [list_status, list] = stack_->Get("/v1/images?page_size=1");
  ASSERT_EQ(list_status, 200) << list;
  json page = json::parse(list);
  ASSERT_EQ(page["images"].size(), 1u);
  EXPECT_EQ(page["images"][0]["id"], id) << "newest first";
  auto [next_status, next] =
      stack_->Get("/v1/images?page_size=1&page_token=" + page["next_page_token"].get<std::string>());
  EXPECT_EQ(next_status, 200) << next;
  EXPECT_EQ(json::parse(next)["images"][0]["id"], first["id"]);

  auto [styles_status, styles] = stack_->Get("/v1/styles");
  ASSERT_EQ(styles_status, 200);
  json style_list = json::parse(styles)["styles"];
  ASSERT_FALSE(style_list.empty());
  std::vector<std::string> names;
  for (const json& style : style_list) {
    names.push_back(style["name"]);
    EXPECT_THAT(style["preview_png"].get<std::string>(), StartsWith("data:image/png;base64,"));
  }
  EXPECT_THAT(names, Contains("handlebar"));
  EXPECT_THAT(names, Contains("pencil"));

  auto [info_status, info_text] = stack_->Get("/v1/info");
  ASSERT_EQ(info_status, 200);
  json info = json::parse(info_text);
  EXPECT_EQ(info["gateway"]["service_name"], "gateway");
  ASSERT_EQ(info["backends"].size(), 3u);
  for (const json& backend : info["backends"]) {
    const json& instance = backend;
    EXPECT_EQ(instance["service_name"], backend["name"]);
    EXPECT_EQ(instance["health"], "SERVING") << backend.dump();
    EXPECT_EQ(instance["version"], "0.1.0");
    EXPECT_THAT(instance["api_packages"],
                Contains(absl::StrCat("stache.", backend["name"].get<std::string>(), ".v1")));
  }

  EXPECT_EQ(stack_->Get("/healthz").first, 200);
  EXPECT_EQ(stack_->Get("/readyz").first, 200);
  auto [metrics_status, metrics] = stack_->Get("/metrics");
  EXPECT_EQ(metrics_status, 200);
  EXPECT_THAT(metrics, HasSubstr("stache_gateway_http_requests_total{method=\"POST\",route=\"/v1/"
                                 "images\",code=\"201\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("stache_gateway_backend_calls_total{backend=\"detector\","
                                 "method=\"Detect\",code=\"OK\"} 2"));

  httplib::Result image = stack_->Upload(grace_hopper_, "", {{"Accept", "image/*"}});
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 201);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_THAT(image->body, StartsWith("\xff\xd8\xff"));

  httplib::Result deleted = stack_->Client()->Delete("/v1/images/" + id);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  for (const std::string suffix : {"", "/original", "/result"}) {
    EXPECT_EQ(stack_->Get("/v1/images/" + id + suffix).first, 404) << suffix;
  }
  EXPECT_EQ(stack_->Client()->Delete("/v1/images/" + id)->status, 404);
  json after = json::parse(stack_->Get("/v1/images").second);
  for (const json& listed : after["images"]) EXPECT_NE(listed["id"], id);
}

TEST_F(GatewayEndToEndTest, NoFaceIsNotAnErrorAndTheResultIsTheOriginal) {
  const std::string coffee = ReadFileOrDie(TestDataPath("coffee.png"));
  httplib::Result response = stack_->Upload(coffee);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201) << response->body;
  json record = json::parse(response->body);
  EXPECT_THAT(record["faces"], IsEmpty());
  auto [status, result] = stack_->Get(record["result_url"].get<std::string>());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(result, coffee);
}

TEST_F(GatewayEndToEndTest, ErrorsAreJsonWithTheRightStatus) {
  auto error_of = [](const httplib::Result& response) {
    json body = json::parse(response->body, nullptr, false);
    EXPECT_EQ(body["error"]["code"], response->status) << response->body;
    return body["error"];
  };
  // 413: a real photo over the limit, refused from its headers alone.
  const std::string astronaut = ReadFileOrDie(TestDataPath("astronaut.png"));
  ASSERT_GT(static_cast<int64_t>(astronaut.size()), kMaxBodyBytes);
  RawConnection connection(stack_->gateway_port());
  ASSERT_TRUE(connection.Send(UploadHeaders(astronaut.size(), "image/png")));
  const std::string answer = connection.ReadUntil("}}", absl::Seconds(5));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("RESOURCE_EXHAUSTED"));

  httplib::Result text = stack_->Client()->Post("/v1/images", "not a photo", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  error_of(text);
  httplib::Result disguised = stack_->Upload("%PDF-1.7 pretending to be a photo");
  ASSERT_TRUE(disguised);
  EXPECT_EQ(disguised->status, 415);

  httplib::Result malformed = stack_->Client()->Post(
      "/v1/images", "--x\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
      "multipart/form-data; boundary=x");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(error_of(malformed)["status"], "INVALID_ARGUMENT");

  httplib::Result unknown_style = stack_->Upload(grace_hopper_, "no-such-style");
  ASSERT_TRUE(unknown_style);
  EXPECT_EQ(unknown_style->status, 400);
  EXPECT_THAT(error_of(unknown_style)["message"].get<std::string>(), HasSubstr("style"));

  httplib::Result missing = stack_->Client()->Get("/v1/images/0123456789abcdef01234567");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(error_of(missing)["status"], "NOT_FOUND");
  // None of it left anything behind.
  EXPECT_THAT(json::parse(stack_->Get("/v1/images").second)["images"], IsEmpty());
}

TEST_F(GatewayEndToEndTest, DetectorKilledMidTestIs503ThenRecovers) {
  UploadGraceHopper();
  stack_->KillDetector();

  const absl::Time start = absl::Now();
  httplib::Result down = stack_->Upload(grace_hopper_);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "no faster than the backend deadline";
  json error = json::parse(down->body)["error"];
  EXPECT_EQ(error["status"], "UNAVAILABLE");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("detector"));
  EXPECT_EQ(stack_->Get("/readyz").first, 503);
  // Reads that need no detector still work.
  EXPECT_EQ(stack_->Get("/v1/images").first, 200);
  EXPECT_EQ(json::parse(stack_->Get("/v1/images").second)["images"].size(), 1u)
      << "the failed upload left nothing behind";

  stack_->StartDetector();
  int status = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        httplib::Result again = stack_->Upload(grace_hopper_);
        status = again ? again->status : 0;
        return status == 201;
      },
      absl::Seconds(60)))
      << "last status " << status << "\n" << stack_->Logs();
  EXPECT_EQ(stack_->Get("/readyz").first, 200);
}

}  // namespace
}  // namespace stache
