// The routes' last line of defence, without a server: whatever a handler
// (or a library under it) throws becomes a 500 in the JSON error shape with
// the request id, and nothing of what was thrown reaches the client.
#include "gateway/internal/http_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "nlohmann/json.hpp"

namespace stache::gateway::internal {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

HttpRequest Get(const std::string& target) {
  HttpRequest request{.method = "GET", .target = target};
  request.headers = {{"X-Request-Id", "req-42"}};
  ParseTarget(request);
  return request;
}

class HttpRoutesTest : public ::testing::Test {
 protected:
  GatewayMetrics metrics_;
  // No gallery or board: these cases never reach them.
  HttpRoutes routes_{nullptr, nullptr, &metrics_};
};

TEST_F(HttpRoutesTest, AnExceptionIsA500WithTheRequestIdAndNothingOfWhatWasThrown) {
  for (int kind = 0; kind < 3; ++kind) {
    SCOPED_TRACE(kind);
    routes_.SetHandlerHookForTest([kind](const HttpRequest&) {
      if (kind == 0)
        throw std::runtime_error("cannot open /srv/secret/key at 10.0.0.7:9000");
      if (kind == 1) throw std::bad_alloc();
      throw 42;  // not even a std::exception
    });
    HttpResponse response = routes_.Handle(Get("/healthz"), nullptr);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.HeaderValue("X-Request-Id"), "req-42");
    EXPECT_EQ(response.HeaderValue("Content-Type"), "application/json");
    EXPECT_THAT(response.body, Not(HasSubstr("/srv")));
    EXPECT_THAT(response.body, Not(HasSubstr("10.0.0.7")));
    const json error = json::parse(response.body)["error"];
    EXPECT_EQ(error["code"], 500);
    EXPECT_EQ(error["status"], "INTERNAL");
    EXPECT_EQ(error["request_id"], "req-42");
  }
  EXPECT_THAT(
      server::RenderMetricsPage(metrics_.registry()),
      HasSubstr("stache_gateway_http_requests_total{method=\"GET\",route=\"/healthz\","
                "code=\"500\"} 3"));
}

TEST_F(HttpRoutesTest, InvalidUtf8InWhatIsEchoedIsStillJson) {
  HttpResponse response = routes_.Handle(Get("/%FF%FE%C0"), nullptr);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(json::accept(response.body)) << response.body;
}

TEST_F(HttpRoutesTest, RefusalsCloseTheConnectionAndKeepTheShape) {
  HttpResponse response = routes_.Refuse(
      Get("/healthz"), {431, absl::InvalidArgumentError("too many header fields")});
  EXPECT_EQ(response.status, 431);
  EXPECT_TRUE(response.close);
  EXPECT_EQ(response.HeaderValue("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(json::parse(response.body)["error"]["message"], "too many header fields");
}

// /livez asks only about this gateway (the target group's check), so it
// answers without consulting a backend, until the gateway drains.
TEST_F(HttpRoutesTest, LivezIsUpUntilDrainingWithoutAskingTheBackends) {
  HttpResponse live = routes_.Handle(Get("/livez"), nullptr);
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(json::parse(live.body)["live"], true);
  EXPECT_FALSE(live.HasHeader("Set-Cookie"));
  routes_.StartDraining();
  HttpResponse draining = routes_.Handle(Get("/livez"), nullptr);
  EXPECT_EQ(draining.status, 503);
  EXPECT_EQ(json::parse(draining.body)["draining"], true);
}

}  // namespace
}  // namespace stache::gateway::internal
