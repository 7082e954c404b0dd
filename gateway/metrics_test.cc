#include "gateway/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace stache::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(GatewayMetricsTest, RecordsRequestsByRouteTemplateAndBackendCalls) {
  GatewayMetrics metrics;
  metrics.RecordHttpRequest("GET", "/v1/images/{id}", 404, absl::Milliseconds(3));
  metrics.RecordBackendCall("detector", "Detect", "UNAVAILABLE", absl::Milliseconds(20));
  const std::string text = metrics.registry().RenderText();
  EXPECT_THAT(text,
              HasSubstr("stache_gateway_http_requests_total{method=\"GET\",route=\"/v1/"
                        "images/{id}\",code=\"404\"} 1"));
  EXPECT_THAT(text, HasSubstr("stache_gateway_http_request_duration_seconds_count{method="
                              "\"GET\",route=\"/v1/images/{id}\"} 1"));
  EXPECT_THAT(text, HasSubstr("stache_gateway_backend_calls_total{backend=\"detector\","
                              "method=\"Detect\",code=\"UNAVAILABLE\"} 1"));
  EXPECT_THAT(text, HasSubstr("stache_gateway_http_requests_in_flight 0"));
  EXPECT_THAT(text, HasSubstr("stache_gateway_http_connections_waiting 0"));
  EXPECT_THAT(text, Not(HasSubstr("nan")));
}

}  // namespace
}  // namespace stache::gateway
