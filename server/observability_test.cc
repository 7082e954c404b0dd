// Request ids and trace context, RPC metrics on the admin port, and
// backpressure, on a real in-process server.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "server/grpc_server.h"
#include "server/request_context.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::stache::testing::IsOk;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(RequestContextTest, ValidatesTraceparents) {
  EXPECT_TRUE(IsValidTraceparent(kTraceparent));
  EXPECT_FALSE(IsValidTraceparent(""));
  EXPECT_FALSE(
      IsValidTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(
      IsValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(
      IsValidTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(
      IsValidTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(
      IsValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));
}

TEST(RequestContextTest, KeepsGoodIncomingValuesAndReplacesBadOnes) {
  RequestContext kept = RequestContext::FromIncoming("upload-42", kTraceparent);
  EXPECT_EQ(kept.request_id(), "upload-42");
  EXPECT_EQ(kept.traceparent(), kTraceparent);
  EXPECT_EQ(kept.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");

  RequestContext made = RequestContext::FromIncoming("", "garbage");
  EXPECT_THAT(made.request_id(), ContainsRegex("^[0-9a-f]{32}$"));
  EXPECT_TRUE(IsValidTraceparent(made.traceparent()));
  // Spaces, markup, control characters and absurd lengths are not kept.
  EXPECT_NE(RequestContext::FromIncoming("a b", "").request_id(), "a b");
  EXPECT_NE(RequestContext::FromIncoming("a\"b<script>", "").request_id(),
            "a\"b<script>");
  EXPECT_NE(RequestContext::FromIncoming(std::string(500, 'x'), "").request_id(),
            std::string(500, 'x'));
}

TEST(RequestContextTest, ChildSpanKeepsTheTraceWithANewSpan) {
  RequestContext parent = RequestContext::FromIncoming("r", kTraceparent);
  RequestContext child = parent.ChildSpan();
  EXPECT_EQ(child.request_id(), "r");
  EXPECT_EQ(child.trace_id(), parent.trace_id());
  EXPECT_NE(child.traceparent(), parent.traceparent());
  EXPECT_TRUE(IsValidTraceparent(child.traceparent()));
  LogFields fields = child.WithLogFields({{"k", 1}});
  EXPECT_EQ(fields["request_id"], "r");
  EXPECT_EQ(fields["traceparent"], child.traceparent());
  EXPECT_EQ(fields["k"], 1);
}

// Blocks each Detect until released; counts how many are inside.
class GateDetector final : public stache::detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext*, const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse* response) override {
    ++inside;
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    response->set_image_width_px(1);
    return grpc::Status::OK;
  }
  std::atomic<int> inside{0};
  absl::Notification release;
};

std::unique_ptr<GrpcServer> Start(GateDetector* service, int max_concurrent_calls = 0) {
  ServerConfig config;
  config.host = "127.0.0.1";
  config.admin_port = 0;
  config.max_concurrent_calls = max_concurrent_calls;
  auto server = GrpcServer::Start(
      config,
      {.service_name = "t", .service_names = {"stache.detector.v1.DetectorService"}},
      {service});
  EXPECT_THAT(server, IsOk());
  return server.ok() ? std::move(*server) : nullptr;
}

std::unique_ptr<stache::detector::v1::DetectorService::Stub> StubFor(
    const GrpcServer& server) {
  return stache::detector::v1::DetectorService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server.port()), grpc::InsecureChannelCredentials()));
}

TEST(ObservabilityTest, EchoesRequestIdAndTraceparentAndCountsTheCall) {
  GateDetector detector;
  detector.release.Notify();
  auto server = Start(&detector);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "req-1");
  context.AddMetadata("traceparent", kTraceparent);
  stache::detector::v1::DetectRequest request;
  request.set_image(std::string(1000, 'x'));
  stache::detector::v1::DetectResponse response;
  ASSERT_TRUE(stub->Detect(&context, request, &response).ok());
  const auto& echoed = context.GetServerTrailingMetadata();
  ASSERT_EQ(echoed.count("x-request-id"), 1u);
  EXPECT_EQ(echoed.find("x-request-id")->second, "req-1");
  EXPECT_EQ(echoed.find("traceparent")->second, kTraceparent);

  httplib::Client admin("127.0.0.1", server->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  EXPECT_THAT(text, HasSubstr("stache_grpc_server_handled_total{grpc_service=\"stache."
                              "detector.v1.DetectorService\",grpc_method=\"Detect\","
                              "grpc_code=\"OK\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("stache_grpc_server_handling_seconds_count{grpc_service="
                "\"stache.detector.v1.DetectorService\",grpc_method=\"Detect\"} 1"));
  EXPECT_THAT(text,
              ContainsRegex("stache_grpc_server_received_bytes_total\\{grpc_service="
                            "\"stache.detector.v1.DetectorService\",grpc_method="
                            "\"Detect\"\\} 100[0-9]"));
  EXPECT_THAT(text, HasSubstr("stache_grpc_server_in_flight_calls"));
  EXPECT_THAT(text, ContainsRegex("process_resident_memory_bytes [1-9]"));
  EXPECT_THAT(text, ContainsRegex("process_open_fds [1-9]"));
  EXPECT_THAT(text, HasSubstr("process_cpu_seconds_total"));
  EXPECT_EQ(admin.Get("/healthz")->status, 200);
}

// A newer client talks to this server: its request carries a field this
// schema does not know (DetectOptions field 9) and an unknown enum value is
// not in DetectRequest, so only the field shows. Counted by method and
// field, per request; the call itself succeeds (unknown fields are ignored).
TEST(ObservabilityTest, CountsRequestsWithFieldsTheServerDoesNotKnow) {
  GateDetector detector;
  detector.release.Notify();
  auto server = Start(&detector);
  auto stub = StubFor(*server);
  stache::detector::v1::DetectRequest request;
  request.mutable_options()->set_max_faces(1);
  request.mutable_options()
      ->GetReflection()
      ->MutableUnknownFields(request.mutable_options())
      ->AddVarint(9, 1);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    stache::detector::v1::DetectResponse response;
    ASSERT_TRUE(stub->Detect(&context, request, &response).ok());
  }
  grpc::ClientContext context;
  stache::detector::v1::DetectResponse response;
  ASSERT_TRUE(
      stub->Detect(&context, stache::detector::v1::DetectRequest(), &response).ok());

  httplib::Client admin("127.0.0.1", server->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(
      metrics->body,
      HasSubstr("stache_grpc_server_unknown_fields_total{grpc_service=\"stache.detector."
                "v1.DetectorService\",grpc_method=\"Detect\",field=\"stache.detector.v1."
                "DetectOptions.#9\"} 2"));
  EXPECT_THAT(metrics->body,
              HasSubstr("# TYPE stache_grpc_server_deprecated_fields_total"));
}

TEST(ObservabilityTest, MakesARequestIdWhenTheCallerSentNone) {
  GateDetector detector;
  detector.release.Notify();
  auto server = Start(&detector);
  grpc::ClientContext context;
  stache::detector::v1::DetectResponse response;
  ASSERT_TRUE(StubFor(*server)->Detect(&context, {}, &response).ok());
  const auto& echoed = context.GetServerTrailingMetadata();
  ASSERT_EQ(echoed.count("x-request-id"), 1u);
  EXPECT_EQ(echoed.find("x-request-id")->second.size(), 32u);
  EXPECT_TRUE(IsValidTraceparent(std::string(echoed.find("traceparent")->second.data(),
                                             echoed.find("traceparent")->second.size())));
}

TEST(ObservabilityTest, RefusesCallsBeyondTheConcurrencyLimitInsteadOfQueueing) {
  GateDetector detector;
  auto server = Start(&detector, /*max_concurrent_calls=*/2);
  auto stub = StubFor(*server);
  std::vector<std::thread> held;
  std::atomic<int> held_ok{0};
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&] {
      // The limit is approximate while gRPC replaces its polling thread, so
      // a holder that was refused tries again.
      for (int attempt = 0; attempt < 50; ++attempt) {
        grpc::ClientContext context;
        stache::detector::v1::DetectResponse response;
        const grpc::Status status = stub->Detect(&context, {}, &response);
        if (status.ok()) ++held_ok;
        if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) return;
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  ASSERT_TRUE(::stache::testing::WaitFor([&] { return detector.inside == 2; },
                                         absl::Seconds(10)));
  // The limit is reached: more calls are refused at once, not queued.
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    stache::detector::v1::DetectResponse response;
    const grpc::Status status = stub->Detect(&context, {}, &response);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_GE(refused, 2);
  EXPECT_EQ(detector.inside, 2);
  // Refusals and admitted calls are counted by kind.
  httplib::Client admin("127.0.0.1", server->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("stache_grpc_server_admitted_calls{kind=\"work\"} 2"));
  EXPECT_THAT(
      metrics->body,
      ContainsRegex("stache_grpc_server_refused_calls_total\\{kind=\"work\"\\} [1-9]"));
  detector.release.Notify();
  for (std::thread& thread : held) thread.join();
  EXPECT_EQ(held_ok, 2);
  // Capacity is back.
  grpc::ClientContext context;
  stache::detector::v1::DetectResponse response;
  EXPECT_TRUE(stub->Detect(&context, {}, &response).ok());
}

}  // namespace
}  // namespace stache::server
