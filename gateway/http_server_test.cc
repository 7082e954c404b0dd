// The HTTP adapter, through the gateway's real wiring (Gateway::Start) on a
// free port, in front of fake backends served by real in-process gRPC
// servers. Every endpoint and every error the REST API promises.
#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gateway/gateway_process.h"
#include "gateway/testing/fake_backends.h"
#include "gateway/testing/raw_connection.h"
#include "nlohmann/json.hpp"
#include "server/build_info.h"
#include "server/request_context.h"
#include "tests/testing/process.h"

namespace stache::gateway {
namespace {

using ::nlohmann::json;
using ::stache::gateway::testing::FakeBackends;
using ::stache::gateway::testing::FakeFace;
using ::stache::gateway::testing::RawConnection;
using ::stache::gateway::testing::TestJpeg;
using ::stache::gateway::testing::TestPng;
using ::stache::gateway::testing::UploadHeaders;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartGateway(backends_.GatewayConfigForTest()); }

  void StartGateway(const GatewayConfig& config) {
    gateway_.reset();
    auto gateway = Gateway::Start(config);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", gateway_->port());
    client_->set_read_timeout(10, 0);
    // As the page: the session the first visit gets, and the header its
    // requests send.
    httplib::Result page = client_->Get("/");
    ASSERT_TRUE(page);
    const std::string set_cookie = page->get_header_value("Set-Cookie");
    ASSERT_THAT(set_cookie, StartsWith("stache_session="));
    session_cookie_ = set_cookie.substr(0, set_cookie.find(';'));
    client_->set_default_headers(
        {{"Cookie", session_cookie_}, {"X-Stache-Client", "web"}});
  }

  // A GET of `path` carrying `cookie` and the page's header.
  httplib::Result GetWithCookie(const std::string& path, const std::string& cookie) {
    httplib::Client client("127.0.0.1", gateway_->port());
    return client.Get(path, {{"Cookie", cookie}, {"X-Stache-Client", "web"}});
  }

  httplib::Result UploadMultipart(const std::string& image,
                                  std::vector<httplib::MultipartFormData> extra = {},
                                  const httplib::Headers& headers = {}) {
    httplib::MultipartFormDataItems items = {{"image", image, "photo.jpg", "image/jpeg"}};
    items.insert(items.end(), extra.begin(), extra.end());
    return client_->Post("/v1/images", headers, items);
  }

  // Uploads a JPEG with one face; returns the JSON answer.
  json UploadOne(const std::string& style = "handlebar") {
    backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
    httplib::Result response = UploadMultipart(TestJpeg(), {{"style", style, "", ""}});
    EXPECT_TRUE(response);
    if (!response) return json();
    EXPECT_EQ(response->status, 201) << response->body;
    return json::parse(response->body);
  }

  static json ErrorOf(const httplib::Result& response) {
    EXPECT_TRUE(response);
    if (!response) return json();
    EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
    json body = json::parse(response->body, nullptr, false);
    EXPECT_TRUE(body.contains("error")) << response->body;
    EXPECT_EQ(body["error"]["code"], response->status);
    return body["error"];
  }

  int64_t max_body_bytes() const {
    return backends_.GatewayConfigForTest().http.max_body_bytes;
  }

  FakeBackends backends_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<httplib::Client> client_;
  // "stache_session=...", which client_ sends.
  std::string session_cookie_;
};

TEST_F(HttpServerTest, MultipartUploadAnswers201WithLocationAndTheRecord) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  httplib::Result response = UploadMultipart(TestJpeg(), {{"style", "pencil", "", ""}});
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201) << response->body;
  json body = json::parse(response->body);
  const std::string id = body["id"];
  EXPECT_TRUE(IsValidImageId(id));
  EXPECT_EQ(response->get_header_value("Location"), "/v1/images/" + id);
  EXPECT_EQ(body["style"], "pencil");
  ASSERT_EQ(body["faces"].size(), 1u);
  EXPECT_EQ(body["faces"][0]["bounding_box"]["x_px"], 10);
  EXPECT_TRUE(body["faces"][0]["landmarks"].contains("upper_lip_top"));
  EXPECT_GT(body["faces"][0]["confidence"].get<double>(), 0);
  EXPECT_EQ(body["original_url"], "/v1/images/" + id + "/original");
  EXPECT_EQ(body["result_url"], "/v1/images/" + id + "/result");
  EXPECT_THAT(body["created_at"].get<std::string>(), HasSubstr("T"));
  for (const char* step :
       {"store_original", "detect", "apply", "store_result", "total"}) {
    EXPECT_TRUE(body["timings_ms"].contains(step)) << step;
  }
  EXPECT_GT(body["timings_ms"]["total"].get<double>(), 0);
}

TEST_F(HttpServerTest, RawImageBodyWithStyleAndFormatInTheQuery) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  httplib::Result response =
      client_->Post("/v1/images?style=pencil&format=png", TestJpeg(), "image/jpeg");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201) << response->body;
  json body = json::parse(response->body);
  EXPECT_EQ(body["style"], "pencil");
  EXPECT_EQ(body["result"]["content_type"], "image/png");
  EXPECT_EQ(body["original"]["content_type"], "image/jpeg");
}

TEST_F(HttpServerTest, AcceptImageAnswersWithTheMustachedImage) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  httplib::Result response = UploadMultipart(TestJpeg(), {}, {{"Accept", "image/*"}});
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201);
  EXPECT_EQ(response->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(response->body, TestJpeg() + "+stache(handlebar)");
  EXPECT_THAT(response->get_header_value("Location"), StartsWith("/v1/images/"));

  // JSON stays the default for browsers' and curl's usual Accept headers.
  response =
      UploadMultipart(TestJpeg(), {}, {{"Accept", "application/json, image/*;q=0.5"}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
  response = UploadMultipart(TestJpeg(), {}, {{"Accept", "*/*"}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
}

TEST_F(HttpServerTest, NoFaceIsNotAnError) {
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201);
  json body = json::parse(response->body);
  EXPECT_THAT(body["faces"], IsEmpty());
  httplib::Result result = client_->Get(body["result_url"].get<std::string>());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, TestJpeg());
}

TEST_F(HttpServerTest, GetsTheRecordAndBothImagesWithCachingHeaders) {
  json uploaded = UploadOne();
  const std::string id = uploaded["id"];

  httplib::Result record = client_->Get("/v1/images/" + id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, 200);
  json without_token = uploaded;
  without_token.erase("delete_token");
  EXPECT_EQ(json::parse(record->body), without_token) << "the delete token is told once";

  for (const char* variant : {"original", "result"}) {
    SCOPED_TRACE(variant);
    const std::string url = absl::StrCat("/v1/images/", id, "/", variant);
    httplib::Result image = client_->Get(url);
    ASSERT_TRUE(image);
    EXPECT_EQ(image->status, 200);
    EXPECT_EQ(image->get_header_value("Content-Type"), "image/jpeg");
    const std::string etag =
        absl::StrCat("\"", uploaded[variant]["sha256"].get<std::string>(), "\"");
    EXPECT_EQ(image->get_header_value("ETag"), etag);
    // Cached, but asked again before each use: a deleted photo is gone at
    // once, not a year later.
    EXPECT_EQ(image->get_header_value("Cache-Control"), "public, no-cache");
    EXPECT_EQ(image->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_THAT(image->get_header_value("Content-Security-Policy"),
                AllOf(HasSubstr("default-src 'none'"), HasSubstr("sandbox")));
    EXPECT_EQ(image->body.size(), uploaded[variant]["size_bytes"].get<size_t>());

    httplib::Result cached = client_->Get(url, {{"If-None-Match", etag}});
    ASSERT_TRUE(cached);
    EXPECT_EQ(cached->status, 304);
    EXPECT_THAT(cached->body, IsEmpty());
    EXPECT_EQ(cached->get_header_value("ETag"), etag);
    cached = client_->Get(url, {{"If-None-Match", "\"other\", W/" + etag}});
    ASSERT_TRUE(cached);
    EXPECT_EQ(cached->status, 304);
    httplib::Result changed = client_->Get(url, {{"If-None-Match", "\"stale\""}});
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->status, 200);
    EXPECT_FALSE(changed->body.empty());
  }
  httplib::Result original = client_->Get("/v1/images/" + id + "/original");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->body, TestJpeg());
}

TEST_F(HttpServerTest, DeleteAnswers204AndBothImagesAreGone) {
  json uploaded = UploadOne();
  const std::string id = uploaded["id"];
  httplib::Result deleted = client_->Delete("/v1/images/" + id);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
  for (const std::string path : {"", "/original", "/result"}) {
    httplib::Result gone = client_->Get("/v1/images/" + id + path);
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->status, 404) << path;
    EXPECT_EQ(ErrorOf(gone)["status"], "NOT_FOUND");
  }
  EXPECT_EQ(client_->Delete("/v1/images/" + id)->status, 404);
}

TEST_F(HttpServerTest, UnknownIdsAndRoutesAre404InTheJsonErrorShape) {
  httplib::Result missing = client_->Get("/v1/images/0123456789abcdef01234567");
  json error = ErrorOf(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(error["status"], "NOT_FOUND");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("no image"));
  EXPECT_EQ(client_->Get("/v1/images/..%2F..%2Fetc%2Fpasswd/original")->status, 404);
  httplib::Result no_route = client_->Get("/v2/nothing");
  EXPECT_EQ(no_route->status, 404);
  EXPECT_THAT(ErrorOf(no_route)["message"].get<std::string>(), HasSubstr("no route"));
}

TEST_F(HttpServerTest, ListsNewestFirstWithPageTokens) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(UploadOne()["id"]);
  httplib::Result first = client_->Get("/v1/images?page_size=2");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  json page = json::parse(first->body);
  ASSERT_EQ(page["images"].size(), 2u);
  EXPECT_EQ(page["images"][0]["id"], ids[2]);
  EXPECT_EQ(page["images"][1]["id"], ids[1]);
  EXPECT_EQ(page["images"][0]["face_count"], 1);
  EXPECT_EQ(page["images"][0]["result_url"], "/v1/images/" + ids[2] + "/result");
  const std::string token = page["next_page_token"];
  ASSERT_FALSE(token.empty());
  httplib::Result second = client_->Get("/v1/images?page_size=2&page_token=" + token);
  ASSERT_TRUE(second);
  json rest = json::parse(second->body);
  ASSERT_EQ(rest["images"].size(), 1u);
  EXPECT_EQ(rest["images"][0]["id"], ids[0]);
  EXPECT_EQ(rest["next_page_token"], "");

  for (const char* bad : {"0", "abc", "1000", "-1"}) {
    httplib::Result refused = client_->Get(absl::StrCat("/v1/images?page_size=", bad));
    EXPECT_EQ(refused->status, 400) << bad;
    EXPECT_EQ(ErrorOf(refused)["status"], "INVALID_ARGUMENT");
  }
  EXPECT_EQ(client_->Get("/v1/images?page_token=garbage")->status, 400);
}

TEST_F(HttpServerTest, StylesComeWithPreviewsAsDataUrls) {
  httplib::Result response = client_->Get("/v1/styles");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  json styles = json::parse(response->body)["styles"];
  ASSERT_EQ(styles.size(), 2u);
  EXPECT_EQ(styles[0]["name"], "handlebar");
  EXPECT_EQ(styles[0]["display_name"], "Handlebar");
  EXPECT_THAT(styles[0]["preview_png"].get<std::string>(),
              StartsWith("data:image/png;base64,iVBORw0KGgo"));
}

TEST_F(HttpServerTest, PublicInfoSaysVersionsAndCountsNothingInternal) {
  httplib::Result response = client_->Get("/v1/info");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  json info = json::parse(response->body);
  EXPECT_EQ(info["gateway"]["service_name"], "gateway");
  EXPECT_EQ(info["gateway"]["version"], server::kVersion);
  EXPECT_EQ(info["gateway"]["max_body_bytes"], max_body_bytes());
  std::vector<std::string> names;
  for (const json& backend : info["backends"]) {
    names.push_back(backend["name"]);
    EXPECT_EQ(backend["health"], "SERVING");
    EXPECT_EQ(backend["version"], server::kVersion);
    EXPECT_EQ(backend["instances"], 1);
    for (const char* internal :
         {"address", "target", "instance_id", "components", "error"}) {
      EXPECT_FALSE(backend.contains(internal)) << internal << " in " << backend.dump();
    }
  }
  EXPECT_THAT(names, ElementsAre("detector", "overlay", "storage"));
  EXPECT_THAT(response->body, Not(HasSubstr("127.0.0.1")));
  EXPECT_FALSE(info["gateway"].contains("instance_id"));
}

TEST_F(HttpServerTest, TheAdminPortListsEveryBackendInstanceInFull) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.admin_port = 0;
  StartGateway(config);
  ASSERT_GT(gateway_->admin_port(), 0);
  httplib::Client admin("127.0.0.1", gateway_->admin_port());
  httplib::Result response = admin.Get("/v1/info");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  json info = json::parse(response->body);
  EXPECT_EQ(info["gateway"]["service_name"], "gateway");
  EXPECT_EQ(info["gateway"]["version"], server::kVersion);
  EXPECT_FALSE(info["gateway"]["instance_id"].get<std::string>().empty());
  EXPECT_GE(info["gateway"]["uptime_seconds"].get<double>(), 0);
  std::vector<std::string> names;
  for (const json& backend : info["backends"]) {
    names.push_back(backend["name"]);
    const json& instance = backend;
    EXPECT_EQ(instance["service_name"], backend["name"]);
    EXPECT_EQ(instance["health"], "SERVING");
    EXPECT_FALSE(instance["instance_id"].get<std::string>().empty());
    EXPECT_TRUE(instance.contains("uptime_seconds"));
    EXPECT_TRUE(instance.contains("api_packages"));
  }
  EXPECT_THAT(names, ElementsAre("detector", "overlay", "storage"));
}

TEST_F(HttpServerTest, HealthzIsAliveAndReadyzFollowsTheBackends) {
  httplib::Result healthz = client_->Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  httplib::Result ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body)["ready"], true);

  backends_.StopDetector();
  httplib::Result not_ready = client_->Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  json body = json::parse(not_ready->body);
  EXPECT_EQ(body["ready"], false);
  EXPECT_THAT(body["backends"]["detector"].get<std::string>(), HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(body["backends"]["storage"], "SERVING");
  // Alive is not ready: the process itself is fine.
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, WhileDrainingReadyzIsUnavailableAndRequestsAreStillServed) {
  std::thread shutdown([&] { gateway_->Shutdown(absl::Seconds(2)); });
  ASSERT_TRUE(stache::testing::WaitFor(
      [&] {
        httplib::Result ready = client_->Get("/readyz");
        return ready && ready->status == 503;
      },
      absl::Seconds(1)));
  EXPECT_EQ(json::parse(client_->Get("/readyz")->body)["draining"], true);
  UploadOne();
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  shutdown.join();
  EXPECT_FALSE(client_->Get("/healthz"));
}

TEST_F(HttpServerTest, MetricsAreOnTheAdminPortOnlyAndCountRequestsByRouteAndStatus) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.admin_port = 0;
  StartGateway(config);
  UploadOne();
  client_->Get("/v1/images/0123456789abcdef01234567");
  EXPECT_EQ(client_->Get("/metrics")->status, 404) << "not on the public port";
  httplib::Client admin("127.0.0.1", gateway_->admin_port());
  httplib::Result metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"),
              StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics->body,
              HasSubstr("stache_gateway_http_requests_total{method=\"POST\",route=\"/v1/"
                        "images\",code=\"201\"} 1"));
  EXPECT_THAT(metrics->body,
              HasSubstr("stache_gateway_http_requests_total{method=\"GET\",route=\"/v1/"
                        "images/{id}\",code=\"404\"} 1"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr("stache_gateway_http_requests_total{method=\"GET\",route=\"unmatched\","
                "code=\"404\"} 1"));
  EXPECT_THAT(metrics->body,
              HasSubstr("stache_gateway_http_request_duration_seconds_bucket{"
                        "method=\"POST\",route=\"/v1/images\",le=\"+Inf\"} 1"));
  EXPECT_THAT(metrics->body,
              HasSubstr("stache_gateway_backend_calls_total{backend=\"detector\","
                        "method=\"Detect\",code=\"OK\"} 1"));
}

TEST_F(HttpServerTest, RequestIdIsEchoedAndSentToBackends) {
  httplib::Result response =
      UploadMultipart(TestJpeg(), {}, {{"X-Request-Id", "trace-me-42"}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->get_header_value("X-Request-Id"), "trace-me-42");
  EXPECT_EQ(backends_.detector().last_request_id(), "trace-me-42");
  httplib::Result generated = client_->Get("/healthz");
  EXPECT_EQ(generated->get_header_value("X-Request-Id").size(), 32u);
  httplib::Result hostile = client_->Get("/healthz", {{"X-Request-Id", "a\"b<script>"}});
  EXPECT_EQ(hostile->get_header_value("X-Request-Id").size(), 32u);
}

TEST_F(HttpServerTest, TraceparentIsHonouredEchoedAndContinuedToBackends) {
  const std::string traceparent =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  httplib::Result response =
      UploadMultipart(TestJpeg(), {}, {{"traceparent", traceparent}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->get_header_value("traceparent"), traceparent);
  // The backend call is a child span of the same trace.
  const std::string sent = backends_.detector().last_traceparent();
  EXPECT_EQ(sent.substr(0, 36), traceparent.substr(0, 36));
  EXPECT_NE(sent, traceparent);
  // Without one (or with a malformed one), the gateway starts a trace.
  httplib::Result fresh = client_->Get("/healthz", {{"traceparent", "garbage"}});
  EXPECT_TRUE(server::IsValidTraceparent(fresh->get_header_value("traceparent")));
}

TEST_F(HttpServerTest, TooLargeIs413BeforeTheBodyIsSent) {
  // Keep-alive long enough that only a deliberate close ends the connection.
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.http.keep_alive_timeout = absl::Seconds(30);
  StartGateway(config);
  RawConnection connection(gateway_->port());
  // Headers only: the body is never sent, yet the answer comes, and the
  // connection (whose body nobody will read) is closed after it.
  ASSERT_TRUE(connection.Send(UploadHeaders(max_body_bytes() + 1)));
  const std::string answer = connection.ReadUntilClosed(absl::Seconds(10));
  EXPECT_TRUE(connection.peer_closed());
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_THAT(answer, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(answer, HasSubstr("\"status\":\"RESOURCE_EXHAUSTED\""));
}

TEST_F(HttpServerTest, TooLargeIs413WhenTheClientAsksBeforeSending) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.http.keep_alive_timeout = absl::Seconds(30);
  StartGateway(config);
  RawConnection connection(gateway_->port());
  ASSERT_TRUE(connection.Send(
      UploadHeaders(max_body_bytes() + 1, "image/jpeg", "Expect: 100-continue\r\n")));
  const std::string answer = connection.ReadUntilClosed(absl::Seconds(10));
  EXPECT_TRUE(connection.peer_closed());
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(answer, Not(HasSubstr("100 Continue")));
}

TEST_F(HttpServerTest, TooLargeChunkedBodyIs413WithoutBufferingIt) {
  RawConnection connection(gateway_->port());
  std::string request =
      "POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, 'x');
  // Just past the limit; no final chunk, so the server has read all we sent.
  for (int64_t sent = 0; sent <= max_body_bytes(); sent += chunk.size()) {
    absl::StrAppend(&request, absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
  }
  ASSERT_TRUE(connection.Send(request));
  const std::string answer = connection.ReadUntil("}}", absl::Seconds(2));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
}

TEST_F(HttpServerTest, WithinTheLimitIsAccepted) {
  // The same kind of request just under the limit goes through.
  std::string image = TestJpeg();
  httplib::Result response = client_->Post("/v1/images", image, "image/jpeg");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
}

TEST_F(HttpServerTest, NonImagesAre415) {
  httplib::Result text = client_->Post("/v1/images", "hello", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  EXPECT_EQ(ErrorOf(text)["status"], "INVALID_ARGUMENT");

  httplib::Result lying = client_->Post("/v1/images", "GIF89a not really", "image/jpeg");
  ASSERT_TRUE(lying);
  EXPECT_EQ(lying->status, 415);
  EXPECT_THAT(ErrorOf(lying)["message"].get<std::string>(), HasSubstr("not an image"));
  EXPECT_EQ(ErrorOf(lying)["reason"], "NOT_AN_IMAGE");

  httplib::Result form = UploadMultipart("just some text");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  EXPECT_EQ(backends_.detector().calls(), 0);
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(HttpServerTest, MalformedMultipartIs400) {
  httplib::Result garbage =
      client_->Post("/v1/images", "this is not a multipart body at all",
                    "multipart/form-data; boundary=----stache");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_THAT(ErrorOf(garbage)["message"].get<std::string>(), HasSubstr("multipart"));

  httplib::Result truncated =
      client_->Post("/v1/images",
                    "------stache\r\nContent-Disposition: form-data; name=\"image\"; "
                    "filename=\"a.jpg\"\r\n"
                    "Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff...",
                    "multipart/form-data; boundary=----stache");
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->status, 400);

  httplib::Result no_boundary =
      client_->Post("/v1/images", "whatever", "multipart/form-data");
  ASSERT_TRUE(no_boundary);
  EXPECT_EQ(no_boundary->status, 400);

  httplib::MultipartFormDataItems no_image = {{"style", "handlebar", "", ""}};
  httplib::Result missing = client_->Post("/v1/images", no_image);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_THAT(ErrorOf(missing)["message"].get<std::string>(), HasSubstr("'image'"));

  httplib::MultipartFormDataItems twice = {{"image", TestJpeg(), "a.jpg", "image/jpeg"},
                                           {"image", TestJpeg(), "b.jpg", "image/jpeg"}};
  EXPECT_EQ(client_->Post("/v1/images", twice)->status, 400);

  httplib::Result empty = client_->Post("/v1/images", "", "image/jpeg");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  // The server survives all of it.
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, BadStyleAndFormatAre400) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  httplib::Result style = UploadMultipart(TestJpeg(), {{"style", "nonexistent", "", ""}});
  ASSERT_TRUE(style);
  EXPECT_EQ(style->status, 400);
  EXPECT_THAT(ErrorOf(style)["message"].get<std::string>(), HasSubstr("unknown style"));
  httplib::Result format =
      client_->Post("/v1/images?format=gif", TestJpeg(), "image/jpeg");
  ASSERT_TRUE(format);
  EXPECT_EQ(format->status, 400);
}

TEST_F(HttpServerTest, BackendDownIs503WithinTheDeadline) {
  backends_.StopDetector();
  const absl::Time start = absl::Now();
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->get_header_value("Retry-After"), "1");
  json error = ErrorOf(response);
  EXPECT_EQ(error["status"], "UNAVAILABLE");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("detector"));
  EXPECT_LT(absl::Now() - start, backends_.GatewayConfigForTest().backend_timeout);
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(HttpServerTest, BackendSheddingLoadIs429WithRetryAfter) {
  backends_.detector().FailWith(absl::ResourceExhaustedError("too many calls"));
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->get_header_value("Retry-After"), "1");
  EXPECT_EQ(ErrorOf(response)["status"], "RESOURCE_EXHAUSTED");
}

TEST_F(HttpServerTest, HungBackendIs504AtTheDeadlineNeverAHang) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.backend_timeout = absl::Milliseconds(500);
  StartGateway(config);
  backends_.detector().BlockCalls();
  const absl::Time start = absl::Now();
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_EQ(ErrorOf(response)["status"], "DEADLINE_EXCEEDED");
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(HttpServerTest, BackendThatNeverSpeaksGrpcFailsWithinTheDeadline) {
  // A socket that accepts connections and never says a word.
  const int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(silent, 16), 0);
  socklen_t length = sizeof(address);
  getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length);

  GatewayConfig config = backends_.GatewayConfigForTest();
  config.detector_address = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  config.backend_timeout = absl::Milliseconds(500);
  StartGateway(config);
  const absl::Time start = absl::Now();
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  // gRPC gives up on the handshake (503) or the call's deadline passes (504).
  EXPECT_THAT(response->status, ::testing::AnyOf(503, 504)) << response->body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  close(silent);
}

TEST_F(HttpServerTest, StorageRefusingTheGatewaysTokenIs500Not401) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.storage_token = "not-the-token";
  StartGateway(config);
  httplib::Result response = UploadMultipart(TestJpeg());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(ErrorOf(response)["status"], "INTERNAL");
}

TEST_F(HttpServerTest, ASlowClientDoesNotBlockOthers) {
  // More stalled connections than one thread could take, each holding a
  // thread mid-request, and an upload stuck in the detector.
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(gateway_->port()));
    ASSERT_TRUE(stalled.back()->Send("POST /v1/images HTTP/1.1\r\nHost: x\r\n"));
  }
  backends_.detector().BlockCalls();
  auto upload = std::async(std::launch::async, [&] {
    httplib::Client client("127.0.0.1", gateway_->port());
    client.set_read_timeout(15, 0);
    httplib::MultipartFormDataItems items = {
        {"image", TestJpeg(), "a.jpg", "image/jpeg"}};
    httplib::Result result = client.Post("/v1/images", items);
    return result ? result->status : -1;
  });
  ASSERT_TRUE(
      backends_.detector().entered().WaitForNotificationWithTimeout(absl::Seconds(5)));
  const absl::Time start = absl::Now();
  httplib::Result styles = client_->Get("/v1/styles");
  ASSERT_TRUE(styles);
  EXPECT_EQ(styles->status, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  backends_.detector().Release();
  EXPECT_EQ(upload.get(), 201);
}

TEST_F(HttpServerTest, ShutdownLetsInFlightUploadsFinish) {
  backends_.detector().BlockCalls();
  auto upload = std::async(std::launch::async, [&] {
    httplib::Client client("127.0.0.1", gateway_->port());
    client.set_read_timeout(15, 0);
    httplib::MultipartFormDataItems items = {
        {"image", TestJpeg(), "a.jpg", "image/jpeg"}};
    httplib::Result result = client.Post("/v1/images", items);
    return result ? result->status : -1;
  });
  ASSERT_TRUE(
      backends_.detector().entered().WaitForNotificationWithTimeout(absl::Seconds(5)));
  auto shutdown = std::async(std::launch::async, [&] { gateway_->Shutdown(); });
  // Not accepting any more, but the upload is still running.
  ASSERT_TRUE(stache::testing::WaitFor(
      [&] { return !stache::testing::PortAcceptsConnections(gateway_->port()); },
      absl::Seconds(5)));
  EXPECT_EQ(shutdown.wait_for(std::chrono::milliseconds(100)),
            std::future_status::timeout);
  backends_.detector().Release();
  EXPECT_EQ(upload.get(), 201);
  shutdown.get();
}

// At --http_max_connections, with every connection busy, the gateway stops
// accepting: the next connection waits in the kernel's backlog, not in
// memory, and is served once a place frees up.
TEST_F(HttpServerTest, ConnectionsBeyondTheCapWaitOutsideTheProcess) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.http.max_connections = 2;
  StartGateway(config);
  // The test process holds both ends: a connection the gateway accepted
  // adds two descriptors, one left in the backlog only the client's.
  auto open_fds = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator());
  };
  backends_.detector().BlockCalls();
  const std::string jpeg = TestJpeg();
  const std::string upload = UploadHeaders(static_cast<int64_t>(jpeg.size())) + jpeg;
  RawConnection first(gateway_->port());  // both wait for the detector
  ASSERT_TRUE(first.Send(upload));
  RawConnection second(gateway_->port());
  ASSERT_TRUE(second.Send(upload));
  ASSERT_TRUE(stache::testing::WaitFor([&] { return backends_.detector().calls() == 2; },
                                       absl::Seconds(5)));
  const auto fds_before = open_fds();
  RawConnection outside(gateway_->port());
  ASSERT_TRUE(
      outside.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(outside.ReadUntil("ok", absl::Milliseconds(500)), "");
  EXPECT_EQ(open_fds() - fds_before, 1)
      << "the gateway accepted a connection it has no room for";

  backends_.detector().Release();
  EXPECT_THAT(first.ReadUntil("}", absl::Seconds(10)), StartsWith("HTTP/1.1 201"));
  EXPECT_THAT(second.ReadUntil("}", absl::Seconds(10)), StartsWith("HTTP/1.1 201"));
  EXPECT_THAT(outside.ReadUntilClosed(absl::Seconds(10)), StartsWith("HTTP/1.1 200"));
}

// At the cap, a connection that has not finished its head (or sits idle)
// makes room for a new one: silent clients cannot lock others out.
TEST_F(HttpServerTest, AtTheCapTheLongestWaitingHeadMakesRoom) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.http.max_connections = 2;
  StartGateway(config);
  RawConnection oldest(gateway_->port());
  ASSERT_TRUE(oldest.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  RawConnection younger(gateway_->port());
  ASSERT_TRUE(younger.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  httplib::Result healthz = client_->Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  oldest.ReadUntilClosed(absl::Seconds(5));
  EXPECT_TRUE(oldest.peer_closed());
  // The younger one is still open and can finish its request.
  ASSERT_TRUE(younger.Send("\r\n"));
  EXPECT_THAT(younger.ReadUntil("ok", absl::Seconds(5)), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, Http10ClientsGetHttp11AnswersAndKeepAliveOnlyWhenAsked) {
  RawConnection plain(gateway_->port());
  ASSERT_TRUE(plain.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  const std::string once = plain.ReadUntilClosed(absl::Seconds(5));
  EXPECT_THAT(once, StartsWith("HTTP/1.1 200"));
  EXPECT_TRUE(plain.peer_closed());

  RawConnection kept(gateway_->port());
  ASSERT_TRUE(kept.Send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const std::string first = kept.ReadUntil("ok\n", absl::Seconds(5));
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(first, HasSubstr("Connection: keep-alive"));
  ASSERT_TRUE(kept.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_THAT(kept.ReadUntilClosed(absl::Seconds(5)), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, FailsFastWhenThePortIsTaken) {
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.http.port = gateway_->port();
  absl::StatusOr<std::unique_ptr<Gateway>> second = Gateway::Start(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("cannot listen"));
}

// The session cookie a response sets, as a Cookie header value; "" when
// it sets none.
std::string SessionCookieOf(const httplib::Result& response) {
  if (!response || !response->has_header("Set-Cookie")) return "";
  const std::string set_cookie = response->get_header_value("Set-Cookie");
  return set_cookie.substr(0, set_cookie.find(';'));
}

TEST_F(HttpServerTest, SessionKeysRotateWithoutLosingAVisitorsPhotos) {
  const std::string old_key(32, 'o');
  const std::string new_key(40, 'n');
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.session_keys = {old_key};
  StartGateway(config);
  const std::string signed_with_old = session_cookie_;
  const std::string id = UploadOne()["id"];
  EXPECT_EQ(SessionCookieOf(GetWithCookie("/", signed_with_old)), "")
      << "a fresh session under the current key is not sent again";

  // A new key first, the old one still verifying: the visitor keeps their
  // photos, and their cookie comes back signed with the new key.
  config.session_keys = {new_key, old_key};
  StartGateway(config);
  httplib::Result listed = GetWithCookie("/v1/images", signed_with_old);
  ASSERT_TRUE(listed);
  ASSERT_EQ(json::parse(listed->body)["images"].size(), 1u) << listed->body;
  EXPECT_EQ(json::parse(listed->body)["images"][0]["id"], id);
  const std::string resigned = SessionCookieOf(listed);
  ASSERT_THAT(resigned, StartsWith("stache_session="));
  EXPECT_NE(resigned, signed_with_old);

  // The old key removed: the re-signed cookie still works, the old one is
  // no session (a new one is issued, with no photos).
  config.session_keys = {new_key};
  StartGateway(config);
  listed = GetWithCookie("/v1/images", resigned);
  ASSERT_TRUE(listed);
  ASSERT_EQ(json::parse(listed->body)["images"].size(), 1u);
  EXPECT_EQ(SessionCookieOf(listed), "");
  listed = GetWithCookie("/v1/images", signed_with_old);
  ASSERT_TRUE(listed);
  EXPECT_THAT(json::parse(listed->body)["images"], IsEmpty());
  EXPECT_THAT(SessionCookieOf(listed), StartsWith("stache_session="));
}

TEST_F(HttpServerTest, TheCookieIsSecureOnlyBehindATrustedHttpsProxy) {
  auto set_cookie_for = [&](const char* proto) {
    httplib::Client client("127.0.0.1", gateway_->port());
    httplib::Result page = client.Get("/", {{"X-Forwarded-Proto", proto}});
    return page ? page->get_header_value("Set-Cookie") : "";
  };
  EXPECT_THAT(
      set_cookie_for("https"),
      AllOf(HasSubstr("HttpOnly"), HasSubstr("SameSite=Lax"), Not(HasSubstr("Secure"))))
      << "no trusted proxy: anyone can send X-Forwarded-Proto";
  GatewayConfig config = backends_.GatewayConfigForTest();
  config.trusted_proxy_hops = 1;
  StartGateway(config);
  EXPECT_THAT(set_cookie_for("https"), HasSubstr("; Secure"));
  EXPECT_THAT(set_cookie_for("http"), Not(HasSubstr("Secure")));
}

TEST_F(HttpServerTest, ProbesAndImagesSetNoCookie) {
  const std::string id = UploadOne()["id"];
  httplib::Client stranger("127.0.0.1", gateway_->port());
  for (const std::string& path : {std::string("/healthz"), std::string("/readyz"),
                                  "/v1/images/" + id + "/result"}) {
    httplib::Result response = stranger.Get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_FALSE(response->has_header("Set-Cookie")) << path;
  }
  httplib::Result list = stranger.Get("/v1/images");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->has_header("Set-Cookie"));
  EXPECT_EQ(list->get_header_value("Cache-Control"), "no-store")
      << "no shared cache may keep a response that sets a cookie";
}

TEST_F(HttpServerTest, ServesTheWebPageWithoutAnythingFromElsewhere) {
  httplib::Result page = client_->Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(page->body, HasSubstr("<script src=\"/app.js\""));
  EXPECT_THAT(page->body, HasSubstr("/style.css"));
  // Nothing is loaded from another origin (the SVG namespace URI is a name,
  // not a fetch).
  for (const char* fetch :
       {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import"}) {
    EXPECT_THAT(page->body, Not(HasSubstr(fetch)));
  }
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"),
              HasSubstr("default-src 'self'"));

  for (const auto& [path, type] : {std::pair{"/app.js", "text/javascript; charset=utf-8"},
                                   std::pair{"/style.css", "text/css; charset=utf-8"}}) {
    httplib::Result asset = client_->Get(path);
    ASSERT_TRUE(asset);
    EXPECT_EQ(asset->status, 200) << path;
    EXPECT_EQ(asset->get_header_value("Content-Type"), type);
    EXPECT_GT(asset->body.size(), 100u);
    // No URL to anywhere else; the SVG namespace is a name, not a fetch.
    std::string text = asset->body;
    absl::StrReplaceAll({{"http://www.w3.org/2000/svg", ""}}, &text);
    EXPECT_THAT(text, Not(HasSubstr("http://")));
    EXPECT_THAT(text, Not(HasSubstr("https://")));
    const std::string etag = asset->get_header_value("ETag");
    EXPECT_EQ(client_->Get(path, {{"If-None-Match", etag}})->status, 304);
  }
}

TEST(GatewayConfigTest, RefusesImpossibleSettings) {
  GatewayConfig config;
  EXPECT_TRUE(ValidateGatewayConfig(config).ok());
  config.http.max_body_bytes = config.max_image_bytes + 1;
  EXPECT_THAT(std::string(ValidateGatewayConfig(config).message()),
              HasSubstr("max_image_bytes"));
  config = GatewayConfig();
  config.http.threads = 0;
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config = GatewayConfig();
  config.http.max_connections = 0;
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config = GatewayConfig();
  config.http.body_memory_bytes = config.http.max_body_bytes - 1;
  EXPECT_THAT(std::string(ValidateGatewayConfig(config).message()),
              HasSubstr("http_body_memory_bytes"));
  config = GatewayConfig();
  config.backend_timeout = absl::ZeroDuration();
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
  config = GatewayConfig();
  config.detector_address = "";
  EXPECT_FALSE(ValidateGatewayConfig(config).ok());
}

TEST(StorageTokenTest, FileThenEnvironmentThenDevelopmentDefault) {
  const std::string dir = stache::testing::MakeTempDir();
  const std::string file = dir + "/token";
  std::ofstream(file) << "from-file-token\n";
  EXPECT_EQ(*LoadStorageToken(file, "from-env"), "from-file-token");
  EXPECT_EQ(*LoadStorageToken("", "from-env"), "from-env");
  EXPECT_EQ(*LoadStorageToken("", nullptr), storage::kDevelopmentToken);
  EXPECT_FALSE(LoadStorageToken(dir + "/missing", nullptr).ok());
  std::ofstream(dir + "/empty") << "\n";
  EXPECT_FALSE(LoadStorageToken(dir + "/empty", nullptr).ok());
}

}  // namespace
}  // namespace stache::gateway
