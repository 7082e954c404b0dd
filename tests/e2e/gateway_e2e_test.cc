// End to end: the real stache-storage, stache-detector, stache-overlay and
// stache-gateway binaries on free loopback ports with a temporary data
// directory, driven over HTTP like a user (and curl) would: a real photo in,
// faces and a mustached photo out, every endpoint, every error, and a
// backend killed and restarted mid-test. And who may do what (issue #13):
// photos listed per session, deleted by their owner or delete token only,
// CSRF, share links, only images served, the upload rate limit, nothing
// internal on the public port, the development token on loopback only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/gateway_process.h"
#include "gateway/testing/raw_connection.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "nlohmann/json.hpp"
#include "server/build_info.h"
#include "server/grpc_channel.h"
#include "storage/storage_client.h"
#include "tests/e2e/service_stack.h"
#include "tests/testing/images.h"
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
using ::testing::Not;
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
    ASSERT_TRUE(stack_->WaitUntilReady())
        << stack_->Get("/readyz").second << stack_->Logs();
    grace_hopper_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
    session_ = NewSession();
  }

  // A new visitor's session as the page holds it: the cookie of the first
  // visit, and the header the page's requests send.
  httplib::Headers NewSession() {
    httplib::Result page = stack_->Client()->Get("/");
    EXPECT_TRUE(page);
    if (!page) return {};
    const std::string set_cookie = page->get_header_value("Set-Cookie");
    EXPECT_THAT(set_cookie, StartsWith("stache_session="));
    EXPECT_THAT(set_cookie, HasSubstr("HttpOnly"));
    EXPECT_THAT(set_cookie, HasSubstr("SameSite=Lax"));
    EXPECT_THAT(set_cookie, HasSubstr("Path=/"));
    EXPECT_THAT(set_cookie, Not(HasSubstr("Secure"))) << "plain HTTP, no trusted proxy";
    return {{"Cookie", set_cookie.substr(0, set_cookie.find(';'))},
            {"X-Stache-Client", "web"}};
  }

  // Uploads Grace Hopper in the fixture's session; the JSON answer.
  json UploadGraceHopper(const std::string& style = "handlebar") {
    return UploadGraceHopperAs(session_, style);
  }
  json UploadGraceHopperAs(const httplib::Headers& session,
                           const std::string& style = "handlebar") {
    httplib::Result response = stack_->Upload(grace_hopper_, style, session);
    EXPECT_TRUE(response);
    if (!response) return json();
    EXPECT_EQ(response->status, 201) << response->body << stack_->Logs();
    return json::parse(response->body, nullptr, false);
  }

  int Delete(const std::string& id, const httplib::Headers& headers) {
    httplib::Result response = stack_->Client()->Delete("/v1/images/" + id, headers);
    return response ? response->status : 0;
  }

  json ListOf(const httplib::Headers& session) {
    auto [status, body] = stack_->Get("/v1/images", session);
    EXPECT_EQ(status, 200) << body;
    return json::parse(body, nullptr, false)["images"];
  }

  std::unique_ptr<e2e::ServiceStack> stack_;
  std::string grace_hopper_;
  httplib::Headers session_;
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
  // API clients delete with the token their upload returned.
  const std::string token = body["delete_token"];
  stache::testing::CommandResult deleted =
      RunCommand({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
                  "DELETE", "-H", "Authorization: Bearer " + token,
                  stack_->url() + "/v1/images/" + body["id"].get<std::string>()});
  EXPECT_EQ(deleted.output, "204");
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
  // Revalidated before each use, so that it ends with the photo's deletion.
  EXPECT_EQ(result->get_header_value("Cache-Control"), "public, no-cache");
  EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_THAT(result->get_header_value("Content-Security-Policy"), HasSubstr("sandbox"));
  EXPECT_EQ(
      stack_
          ->Get("/v1/images/" + id + "/result", {{"If-None-Match", "\"" + sha256 + "\""}})
          .first,
      304);
}

// A portrait as a phone stores it: the pixels sideways and EXIF orientation
// 6. The detector finds the face in the upright photo, the overlay draws
// the mustache there (turning the JPEG's blocks losslessly, issue #16) and
// the result comes back upright, with the mustache across the lip, not
// along it.
TEST_F(GatewayEndToEndTest, APhonePhotoStoredSidewaysComesBackUprightWithItsMustache) {
  absl::StatusOr<imaging::DecodedImage> photo = imaging::DecodeImage(grace_hopper_, {});
  ASSERT_TRUE(photo.ok()) << photo.status();
  const cv::Mat upright = photo->pixels(cv::Rect(0, 0, 512, 592));  // whole MCUs
  cv::Mat stored;
  cv::rotate(upright, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
  absl::StatusOr<std::string> stored_jpeg =
      imaging::EncodeImage(stored, imaging::ImageFormat::kJpeg, 90);
  ASSERT_TRUE(stored_jpeg.ok()) << stored_jpeg.status();
  const std::string phone = stache::testing::WithExifOrientation(*stored_jpeg, 6);

  httplib::Result response = stack_->Upload(phone, "walrus", session_);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201) << response->body << stack_->Logs();
  const json record = json::parse(response->body, nullptr, false);
  EXPECT_EQ(record["original"]["width_px"], 512);
  EXPECT_EQ(record["original"]["height_px"], 592);
  ASSERT_EQ(record["faces"].size(), 1u) << record.dump(2);
  const json& landmarks = record["faces"][0]["landmarks"];
  auto point = [&](const char* name) {
    return cv::Point2d(landmarks[name]["x_px"].get<double>(),
                       landmarks[name]["y_px"].get<double>());
  };
  const cv::Point2d nose = point("nose_base"), lip = point("upper_lip_top");
  EXPECT_LT(point("left_eye_center").y, nose.y) << "the face was found upright";
  EXPECT_LT(nose.y, lip.y);

  httplib::Result result =
      stack_->Client()->Get("/v1/images/" + record["id"].get<std::string>() + "/result");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200);
  absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(result->body);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, imaging::ImageFormat::kJpeg);
  EXPECT_EQ(header->orientation, 1);
  EXPECT_EQ(cv::Size(header->width, header->height), cv::Size(512, 592)) << "upright";
  absl::StatusOr<imaging::DecodedImage> drawn = imaging::DecodeImage(result->body, {});
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  absl::StatusOr<imaging::DecodedImage> as_viewed = imaging::DecodeImage(phone, {});
  ASSERT_TRUE(as_viewed.ok()) << as_viewed.status();

  // The mustache: pixels far from what the viewer saw (coding elsewhere
  // moves a pixel by a few levels at most).
  cv::Mat difference, mustache;
  cv::absdiff(drawn->pixels, as_viewed->pixels, difference);
  cv::transform(difference, difference, cv::Matx13f(1, 1, 1));
  cv::compare(difference, 90, mustache, cv::CMP_GT);
  ASSERT_GT(cv::countNonZero(mustache), 200);
  const cv::Rect extent = cv::boundingRect(mustache);
  EXPECT_GT(extent.width, 1.5 * extent.height) << "drawn across the face: " << extent;
  const cv::Moments moments = cv::moments(mustache, true);
  const cv::Point2d centre(moments.m10 / moments.m00, moments.m01 / moments.m00);
  const double inter_ocular =
      cv::norm(point("right_eye_center") - point("left_eye_center"));
  EXPECT_LT(cv::norm(centre - (nose + lip) / 2), 0.3 * inter_ocular)
      << "mustache at " << centre << ", philtrum at " << (nose + lip) / 2;
}

TEST_F(GatewayEndToEndTest, EveryEndpoint) {
  json first = UploadGraceHopper("pencil");
  json second = UploadGraceHopper();
  const std::string id = second["id"];

  auto [record_status, record] = stack_->Get("/v1/images/" + id);
  EXPECT_EQ(record_status, 200);
  second.erase("delete_token");  // told once, in the upload's answer
  EXPECT_EQ(json::parse(record), second);

  auto [list_status, list] = stack_->Get("/v1/images?page_size=1", session_);
  ASSERT_EQ(list_status, 200) << list;
  json page = json::parse(list);
  ASSERT_EQ(page["images"].size(), 1u);
  EXPECT_EQ(page["images"][0]["id"], id) << "newest first";
  auto [next_status, next] = stack_->Get(
      "/v1/images?page_size=1&page_token=" + page["next_page_token"].get<std::string>(),
      session_);
  EXPECT_EQ(next_status, 200) << next;
  EXPECT_EQ(json::parse(next)["images"][0]["id"], first["id"]);

  auto [styles_status, styles] = stack_->Get("/v1/styles");
  ASSERT_EQ(styles_status, 200);
  json style_list = json::parse(styles)["styles"];
  ASSERT_FALSE(style_list.empty());
  std::vector<std::string> names;
  for (const json& style : style_list) {
    names.push_back(style["name"]);
    EXPECT_THAT(style["preview_png"].get<std::string>(),
                StartsWith("data:image/png;base64,"));
  }
  EXPECT_THAT(names, Contains("handlebar"));
  EXPECT_THAT(names, Contains("pencil"));

  // Public: versions and counts, nothing about addresses or the bucket.
  auto [info_status, info_text] = stack_->Get("/v1/info");
  ASSERT_EQ(info_status, 200);
  json info = json::parse(info_text);
  EXPECT_EQ(info["gateway"]["service_name"], "gateway");
  ASSERT_EQ(info["backends"].size(), 3u);
  for (const json& backend : info["backends"]) {
    EXPECT_EQ(backend["service_name"], backend["name"]);
    EXPECT_EQ(backend["health"], "SERVING") << backend.dump();
    EXPECT_EQ(backend["version"], ::stache::server::kVersion);
    EXPECT_EQ(backend["instances"], 1);
  }
  for (const std::string& internal : std::vector<std::string>{
           "127.0.0.1", "address", "target", "components", "instance_id",
           absl::StrCat(":", stack_->storage_port())}) {
    EXPECT_THAT(info_text, Not(HasSubstr(internal)));
  }
  // The detail is on the admin port.
  httplib::Client admin("127.0.0.1", stack_->gateway_admin_port());
  httplib::Result full = admin.Get("/v1/info");
  ASSERT_TRUE(full);
  ASSERT_EQ(full->status, 200);
  for (const json& backend : json::parse(full->body)["backends"]) {
    EXPECT_THAT(backend["address"].get<std::string>(), StartsWith("127.0.0.1:"));
    EXPECT_THAT(
        backend["api_packages"],
        Contains(absl::StrCat("stache.", backend["name"].get<std::string>(), ".v1")));
  }

  EXPECT_EQ(stack_->Get("/healthz").first, 200);
  EXPECT_EQ(stack_->Get("/readyz").first, 200);
  EXPECT_EQ(stack_->Get("/metrics").first, 404) << "metrics are for the admin port only";
  httplib::Result metrics_page = admin.Get("/metrics");
  ASSERT_TRUE(metrics_page);
  EXPECT_EQ(metrics_page->status, 200);
  const std::string& metrics = metrics_page->body;
  EXPECT_THAT(metrics,
              HasSubstr("stache_gateway_http_requests_total{method=\"POST\",route=\"/v1/"
                        "images\",code=\"201\"} 2"));
  EXPECT_THAT(metrics,
              HasSubstr("stache_gateway_backend_calls_total{backend=\"detector\","
                        "method=\"Detect\",code=\"OK\"} 2"));

  httplib::Result image = stack_->Upload(grace_hopper_, "", {{"Accept", "image/*"}});
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 201);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_THAT(image->body, StartsWith("\xff\xd8\xff"));
  EXPECT_EQ(image->get_header_value("X-Stache-Delete-Token").size(), 64u);
  EXPECT_EQ(image->get_header_value("Cache-Control"), "no-store");

  EXPECT_EQ(Delete(id, session_), 204);
  for (const std::string suffix : {"", "/original", "/result"}) {
    EXPECT_EQ(stack_->Get("/v1/images/" + id + suffix).first, 404) << suffix;
  }
  EXPECT_EQ(Delete(id, session_), 404);
  for (const json& listed : ListOf(session_)) EXPECT_NE(listed["id"], id);
}

TEST_F(GatewayEndToEndTest, NoFaceIsNotAnErrorAndTheResultIsTheOriginal) {
  const std::string coffee = ReadFileOrDie(TestDataPath("coffee.png"));
  httplib::Result response = stack_->Upload(coffee, "", session_);
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

  httplib::Result text =
      stack_->Client()->Post("/v1/images", "not a photo", "text/plain");
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

  httplib::Result unknown_style =
      stack_->Upload(grace_hopper_, "no-such-style", session_);
  ASSERT_TRUE(unknown_style);
  EXPECT_EQ(unknown_style->status, 400);
  EXPECT_THAT(error_of(unknown_style)["message"].get<std::string>(), HasSubstr("style"));
  // The overlay's google.rpc.ErrorInfo reason, passed on to the REST body.
  EXPECT_EQ(error_of(unknown_style)["reason"], "UNKNOWN_STYLE");

  httplib::Result missing = stack_->Client()->Get("/v1/images/0123456789abcdef01234567");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(error_of(missing)["status"], "NOT_FOUND");
  EXPECT_EQ(error_of(missing)["reason"], "NOT_FOUND");
  // None of it left anything behind.
  EXPECT_THAT(ListOf(session_), IsEmpty());
}

TEST_F(GatewayEndToEndTest, EachSessionListsOnlyItsOwnPhotosAndSharesByLink) {
  const httplib::Headers alice = session_;
  const httplib::Headers bob = NewSession();
  ASSERT_NE(alice, bob);
  const json alices = UploadGraceHopperAs(alice);
  const json bobs = UploadGraceHopperAs(bob, "pencil");
  // Told once: in the upload's answer, not in the record or the list.
  EXPECT_EQ(alices["delete_token"].get<std::string>().size(), 64u);
  auto [record_status, record] =
      stack_->Get("/v1/images/" + alices["id"].get<std::string>(), bob);
  EXPECT_EQ(record_status, 200);
  EXPECT_FALSE(json::parse(record).contains("delete_token"));
  EXPECT_THAT(record, Not(HasSubstr(alices["delete_token"].get<std::string>())));

  const json alice_list = ListOf(alice);
  ASSERT_EQ(alice_list.size(), 1u) << alice_list.dump();
  EXPECT_EQ(alice_list[0]["id"], alices["id"]);
  EXPECT_FALSE(alice_list[0].contains("delete_token"));
  const json bob_list = ListOf(bob);
  ASSERT_EQ(bob_list.size(), 1u);
  EXPECT_EQ(bob_list[0]["id"], bobs["id"]);
  EXPECT_THAT(ListOf({}), IsEmpty()) << "no session, no gallery";
  EXPECT_THAT(
      ListOf({{"Cookie", "stache_session=0123456789abcdef0123456789abcdef.1.AAAA"}}),
      IsEmpty())
      << "a forged cookie is no session";

  // A result and its original are share links: anyone with the id reads them.
  for (const char* variant : {"/result", "/original"}) {
    EXPECT_EQ(
        stack_->Get("/v1/images/" + alices["id"].get<std::string>() + variant, bob).first,
        200);
    EXPECT_EQ(
        stack_->Get("/v1/images/" + alices["id"].get<std::string>() + variant).first,
        200);
  }
}

TEST_F(GatewayEndToEndTest, DeleteNeedsTheOwnersSessionOrTheDeleteToken) {
  const httplib::Headers stranger = NewSession();
  const json upload = UploadGraceHopper();
  const std::string id = upload["id"];
  const std::string token = upload["delete_token"];
  const httplib::Headers cookie_only = {{"Cookie", session_.find("Cookie")->second}};

  EXPECT_EQ(Delete(id, {}), 403) << "no credentials";
  EXPECT_EQ(Delete(id, stranger), 403) << "another session";
  httplib::Result forged = stack_->Client()->Delete("/v1/images/" + id, cookie_only);
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403) << "the owner's cookie without the page's header: CSRF";
  EXPECT_THAT(json::parse(forged->body)["error"]["message"].get<std::string>(),
              HasSubstr("X-Stache-Client"));
  EXPECT_EQ(Delete(id, {{"Authorization", "Bearer " + std::string(64, '0')}}), 403);
  EXPECT_EQ(Delete(id, {{"Authorization",
                         "Bearer " + upload["original"]["sha256"].get<std::string>()}}),
            403);
  EXPECT_EQ(stack_->Get("/v1/images/" + id).first, 200) << "still there";
  EXPECT_EQ(Delete("0123456789abcdef01234567", session_), 404) << "unknown ids are 404";

  // The token alone deletes it (API clients; no cookie, no header needed).
  EXPECT_EQ(Delete(id, {{"Authorization", "Bearer " + token}}), 204);
  EXPECT_EQ(stack_->Get("/v1/images/" + id + "/result").first, 404);
  EXPECT_THAT(ListOf(session_), IsEmpty());

  // The owner's session, with the page's header, deletes too.
  const std::string second = UploadGraceHopper()["id"];
  EXPECT_EQ(Delete(second, stranger), 403);
  EXPECT_EQ(Delete(second, session_), 204);
  EXPECT_EQ(stack_->Get("/v1/images/" + second).first, 404);

  // An upload carrying the cookie must carry the header too.
  httplib::Result csrf_upload = stack_->Upload(grace_hopper_, "", cookie_only);
  ASSERT_TRUE(csrf_upload);
  EXPECT_EQ(csrf_upload->status, 403);
  EXPECT_THAT(ListOf(session_), IsEmpty());
}

TEST_F(GatewayEndToEndTest, StoredHtmlIsNeverServedAsHtml) {
  const json upload = UploadGraceHopper();
  const std::string id = upload["id"];
  // Someone with storage access (or a bug) stores HTML under the image's
  // keys, labelled text/html.
  storage::StorageClient storage(
      storage::v1::StorageService::NewStub(server::MakeChannel(
          absl::StrCat("127.0.0.1:", stack_->storage_port()), 64'000'000)),
      {.token = storage::kDevelopmentToken});
  const std::string html = "<html><script>alert(document.cookie)</script></html>";
  ASSERT_TRUE(storage
                  .PutObject({.ns = "gateway",
                              .key = "images/" + id + "/result",
                              .content_type = "text/html"},
                             html)
                  .ok());
  ASSERT_TRUE(storage
                  .PutObject({.ns = "gateway",
                              .key = "images/" + id + "/original",
                              .content_type = "text/html; charset=utf-8"},
                             grace_hopper_)
                  .ok());
  httplib::Result result = stack_->Client()->Get("/v1/images/" + id + "/result");
  ASSERT_TRUE(result);
  EXPECT_NE(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_THAT(result->body, Not(HasSubstr("<script>")));
  EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff");
  // Real image bytes are served as what they are, whatever the label.
  httplib::Result original = stack_->Client()->Get("/v1/images/" + id + "/original");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->status, 200);
  EXPECT_EQ(original->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_THAT(original->get_header_value("Content-Security-Policy"),
              HasSubstr("sandbox"));
}

TEST(GatewaySecretsTest, TheDevelopmentTokenAndEmptySecretsAreRefusedAtStart) {
  // The gateway's output when started with `flags`; it must exit non-zero,
  // before it listens.
  auto refused = [](const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {
        stache::testing::BinaryPath("stache-gateway"),
        absl::StrCat("--port=", stache::testing::PickUnusedPort()), "--admin_port=-1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    stache::testing::CommandResult result = RunCommand(argv, absl::Seconds(20));
    EXPECT_NE(result.exit_code, 0) << result.output;
    return result.output;
  };
  auto file_with = [](const std::string& text) {
    const std::string path = MakeTempDir() + "/secret";
    std::ofstream(path) << text;
    return path;
  };
  // Not loopback: the published token is refused.
  EXPECT_THAT(refused({"--host=0.0.0.0"}), HasSubstr("development storage token"));
  // Set but empty is an error, not the development token.
  EXPECT_THAT(refused({"--host=127.0.0.1", "--storage_token_file=" + file_with("\n")}),
              HasSubstr("empty"));
  EXPECT_THAT(
      refused({"--host=127.0.0.1", "--session_key_file=" + file_with("too-short\n")}),
      HasSubstr("at least 32"));
}

// Uploads from one address beyond the limit: 429 with Retry-After, until a
// token refills. The client address comes through one trusted proxy.
TEST(GatewayRateLimitTest, TooManyUploadsFromOneAddressGet429AndRecover) {
  e2e::ServiceStack stack(
      kMaxBodyBytes, {"--trusted_proxy_hops=1", "--upload_rate=20", "--upload_burst=2",
                      "--rate_limit_exempt_cidrs=172.16.0.0/12"});
  ASSERT_TRUE(stack.WaitUntilReady()) << stack.Logs();
  const std::string photo = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  const httplib::Headers client = {{"X-Forwarded-For", "198.51.100.1, 203.0.113.9"}};
  auto upload = [&](const httplib::Headers& headers) {
    httplib::Result response = stack.Upload(photo, "", headers);
    return response ? response->status : 0;
  };
  EXPECT_EQ(upload(client), 201);
  EXPECT_EQ(upload(client), 201);
  httplib::Result refused = stack.Upload(photo, "", client);
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->status, 429) << refused->body;
  int retry_after = 0;
  ASSERT_TRUE(absl::SimpleAtoi(refused->get_header_value("Retry-After"), &retry_after));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 3);
  json error = json::parse(refused->body)["error"];
  EXPECT_EQ(error["status"], "RESOURCE_EXHAUSTED");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("too many uploads"));
  // The address the client made up (left of what the proxy saw) does not
  // make it another client.
  EXPECT_EQ(upload({{"X-Forwarded-For", "192.0.2.77, 203.0.113.9"}}), 429);
  // Another client is not affected; nor is a loopback one.
  EXPECT_EQ(upload({{"X-Forwarded-For", "203.0.113.10"}}), 201);
  EXPECT_EQ(upload({{"X-Forwarded-For", "127.0.0.1"}}), 201);
  // Nor one from an exempt network, however many.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(upload({{"X-Forwarded-For", "172.20.0.5"}}), 201) << i;
  // It recovers once a token has refilled (one each 3 s).
  int status = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        status = upload(client);
        return status == 201;
      },
      absl::Seconds(10)))
      << "last status " << status;
}

TEST_F(GatewayEndToEndTest, DetectorKilledMidTestIs503ThenRecovers) {
  UploadGraceHopper();
  stack_->KillDetector();

  const absl::Time start = absl::Now();
  httplib::Result down = stack_->Upload(grace_hopper_, "", session_);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10))
      << "no faster than the backend deadline";
  json error = json::parse(down->body)["error"];
  EXPECT_EQ(error["status"], "UNAVAILABLE");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("detector"));
  // Clients are told when to come back; the load balancer's check (/livez)
  // keeps this gateway in service, since it can answer, while /readyz says
  // a backend is missing.
  EXPECT_TRUE(down->has_header("Retry-After"));
  EXPECT_GE(std::atoi(down->get_header_value("Retry-After").c_str()), 1);
  EXPECT_EQ(stack_->Get("/livez").first, 200);
  EXPECT_EQ(stack_->Get("/readyz").first, 503);
  // Reads that need no detector still work.
  EXPECT_EQ(ListOf(session_).size(), 1u) << "the failed upload left nothing behind";

  stack_->StartDetector();
  int status = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        httplib::Result again = stack_->Upload(grace_hopper_, "", session_);
        status = again ? again->status : 0;
        return status == 201;
      },
      absl::Seconds(60)))
      << "last status " << status << "\n"
      << stack_->Logs();
  EXPECT_EQ(stack_->Get("/readyz").first, 200);
}

// The other backends stopped too (#14): each outage is a 503 that says when
// to retry, and the load balancer's check (/livez) keeps the gateway in
// service throughout, so a backend outage never becomes a gateway outage.
TEST_F(GatewayEndToEndTest, OverlayOrStorageStoppedIs503WithRetryAfterAndLivezStaysUp) {
  for (testing::ChildProcess* backend : {&stack_->overlay(), &stack_->storage()}) {
    backend->Signal(SIGKILL);
    ASSERT_TRUE(WaitFor([&] { return !backend->Running(); }, absl::Seconds(10)));
    httplib::Result down = stack_->Upload(grace_hopper_, "", session_);
    ASSERT_TRUE(down);
    EXPECT_EQ(down->status, 503) << down->body;
    EXPECT_EQ(json::parse(down->body)["error"]["status"], "UNAVAILABLE") << down->body;
    EXPECT_GE(std::atoi(down->get_header_value("Retry-After").c_str()), 1) << down->body;
    EXPECT_EQ(stack_->Get("/livez").first, 200);
    EXPECT_EQ(stack_->Get("/readyz").first, 503);
  }
}

}  // namespace
}  // namespace stache
