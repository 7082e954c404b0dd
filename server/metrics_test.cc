#include "server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace stache::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CounterRendersHelpTypeAndLabelledSamples) {
  MetricsRegistry registry;
  Counter& requests =
      registry.AddCounter("test_requests_total", "Requests.", {"route", "code"});
  requests.Increment({"/v1/images", "201"});
  requests.Increment({"/v1/images", "201"});
  requests.Increment({"/v1/images", "413"}, 3);
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("# HELP test_requests_total Requests.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE test_requests_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("test_requests_total{route=\"/v1/images\",code=\"201\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("test_requests_total{route=\"/v1/images\",code=\"413\"} 3\n"));
}

TEST(MetricsTest, LargeCountsPrintExactly) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("big_total", "Big.", {});
  counter.Increment({}, 12345678);
  EXPECT_THAT(registry.RenderText(), HasSubstr("big_total 12345678\n"));
}

TEST(MetricsTest, EscapesLabelValues) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("escaped_total", "Escapes.", {"path"});
  counter.Increment({"a\"b\\c\nd"});
  EXPECT_THAT(registry.RenderText(), HasSubstr(R"(escaped_total{path="a\"b\\c\nd"} 1)"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  Histogram& latency =
      registry.AddHistogram("latency_seconds", "Latency.", {"route"}, {0.1, 1, 10});
  latency.Observe({"/x"}, 0.05);
  latency.Observe({"/x"}, 0.5);
  latency.Observe({"/x"}, 0.7);
  latency.Observe({"/x"}, 100);
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/x\",le=\"10\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_sum{route=\"/x\"} 101.25\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_count{route=\"/x\"} 4\n"));
  EXPECT_EQ(latency.Count({"/x"}), 4u);
}

TEST(MetricsTest, CollectorsRefreshGaugesBeforeEachRender) {
  MetricsRegistry registry;
  Gauge& objects = registry.AddGauge("objects", "Objects.", {"ns"});
  int source = 3;
  registry.AddCollector([&] { objects.Set({"a"}, source); });
  EXPECT_THAT(registry.RenderText(), HasSubstr("objects{ns=\"a\"} 3\n"));
  source = 5;
  EXPECT_THAT(registry.RenderText(), HasSubstr("objects{ns=\"a\"} 5\n"));
}

TEST(MetricsTest, CountsFromManyThreads) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("threads_total", "Threads.", {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) counter.Increment({});
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.Value({}), 4000);
}

}  // namespace
}  // namespace stache::server
