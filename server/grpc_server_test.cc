#include "server/grpc_server.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/call_handler.h"
#include "server/grpc_channel.h"
#include "server/status.h"
#include "server/testing/idle_stream.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/info/v1/info.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::stache::server::testing::IdleStream;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// A DetectorService whose Detect blocks until released, to have a call in
// flight during shutdown.
class SlowDetectorService final : public stache::detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext*, const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse* response) override {
    // Other calls may arrive while the test probes for shutdown; only the
    // first one signals.
    if (calls.fetch_add(1) == 0) started.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    response->set_image_width_px(7);
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  absl::Notification started;
  absl::Notification release;
};

ServerConfig LocalConfig() {
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  return config;
}

std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

TEST(StatusTest, ConvertsBothWaysKeepingCodeAndMessage) {
  absl::Status status = absl::ResourceExhaustedError("too big");
  grpc::Status grpc_status = ToGrpcStatus(status);
  EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(grpc_status.error_message(), "too big");
  EXPECT_EQ(FromGrpcStatus(grpc_status), status);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

absl::StatusOr<int> Half(int value) {
  if (value % 2 != 0) return absl::InvalidArgumentError("odd");
  return value / 2;
}
absl::StatusOr<int> Quarter(int value) {
  STACHE_ASSIGN_OR_RETURN(int half, Half(value));
  STACHE_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, AssignOrReturnPropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
}

TEST(GrpcServerTest, ServesHealthPerServiceAndInfo) {
  auto server = GrpcServer::Start(
      LocalConfig(),
      {.service_name = "test", .service_names = {"stache.test.v1.TestService"}}, {});
  ASSERT_THAT(server, IsOk());
  auto channel = ChannelTo((*server)->port());

  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const char* name : {"", "stache.test.v1.TestService"}) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(name);
    HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << name;
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << name;
  }

  auto info = stache::info::v1::InfoService::NewStub(channel);
  grpc::ClientContext context;
  stache::info::v1::GetInfoResponse response;
  ASSERT_TRUE(info->GetInfo(&context, {}, &response).ok());
  EXPECT_EQ(response.service_name(), "test");
  EXPECT_THAT(response.api_packages(), ElementsAre("stache.info.v1", "stache.test.v1"));
  EXPECT_FALSE(response.instance_id().empty());
  EXPECT_GE(response.uptime_seconds(), 0);
}

TEST(GrpcServerTest, AcceptsMessagesUpToTheImageLimit) {
  ServerConfig config = LocalConfig();
  config.max_image_bytes = 6'000'000;  // larger than gRPC's 4 MiB default
  SlowDetectorService service;
  service.release.Notify();
  auto server = GrpcServer::Start(config, {.service_name = "test"}, {&service});
  ASSERT_THAT(server, IsOk());
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(MaxMessageBytes(config.max_image_bytes));
  auto stub = stache::detector::v1::DetectorService::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                grpc::InsecureChannelCredentials(), args));
  stache::detector::v1::DetectRequest request;
  request.set_image(std::string(5'500'000, 'x'));
  stache::detector::v1::DetectResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Detect(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();

  request.set_image(std::string(config.max_image_bytes + kMessageOverheadBytes, 'x'));
  grpc::ClientContext too_big_context;
  status = stub->Detect(&too_big_context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(GrpcServerTest, FailsClearlyWhenThePortIsTaken) {
  auto first = GrpcServer::Start(LocalConfig(), {.service_name = "a"}, {});
  ASSERT_THAT(first, IsOk());
  ServerConfig config = LocalConfig();
  config.port = (*first)->port();
  EXPECT_THAT(GrpcServer::Start(config, {.service_name = "b"}, {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("127.0.0.1:", config.port))));
}

TEST(GrpcServerTest, ShutdownLetsInFlightCallsFinishAndRefusesNewOnes) {
  SlowDetectorService slow;
  auto server = GrpcServer::Start(
      LocalConfig(),
      {.service_name = "slow", .service_names = {"stache.detector.v1.DetectorService"}},
      {&slow});
  ASSERT_THAT(server, IsOk());
  auto channel = ChannelTo((*server)->port());
  auto stub = stache::detector::v1::DetectorService::NewStub(channel);

  grpc::Status in_flight_status;
  stache::detector::v1::DetectResponse in_flight_response;
  std::thread in_flight([&] {
    grpc::ClientContext context;
    in_flight_status = stub->Detect(&context, {}, &in_flight_response);
  });
  ASSERT_TRUE(slow.started.WaitForNotificationWithTimeout(absl::Seconds(10)));

  std::thread shutdown([&] { (*server)->Shutdown(absl::Seconds(10)); });
  // New calls are refused once shutdown has begun.
  EXPECT_TRUE(::stache::testing::WaitFor(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
        stache::detector::v1::DetectResponse response;
        return !stub->Detect(&context, {}, &response).ok();
      },
      absl::Seconds(5)));
  slow.release.Notify();
  in_flight.join();
  shutdown.join();
  EXPECT_TRUE(in_flight_status.ok()) << in_flight_status.error_message();
  EXPECT_EQ(in_flight_response.image_width_px(), 7u);
}

// The drain delay: health says NOT_SERVING while calls are still served, so
// health-checking clients leave before the listener closes.
TEST(GrpcServerTest, DuringTheDrainDelayHealthIsNotServingAndCallsStillWork) {
  SlowDetectorService fast;
  fast.release.Notify();
  ServerConfig config = LocalConfig();
  config.drain_delay = absl::Seconds(3);
  auto server = GrpcServer::Start(
      config,
      {.service_name = "d", .service_names = {"stache.detector.v1.DetectorService"}},
      {&fast});
  ASSERT_THAT(server, IsOk());
  auto channel = ChannelTo((*server)->port());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto health_status = [&] {
    grpc::ClientContext context;
    HealthCheckResponse response;
    health->Check(&context, HealthCheckRequest(), &response);
    return response.status();
  };
  ASSERT_EQ(health_status(), HealthCheckResponse::SERVING);

  const absl::Time start = absl::Now();
  std::thread shutdown([&] { (*server)->Shutdown(absl::Seconds(10)); });
  ASSERT_TRUE(::stache::testing::WaitFor(
      [&] { return health_status() == HealthCheckResponse::NOT_SERVING; },
      absl::Seconds(2)));
  auto stub = stache::detector::v1::DetectorService::NewStub(channel);
  grpc::ClientContext context;
  stache::detector::v1::DetectResponse response;
  EXPECT_TRUE(stub->Detect(&context, {}, &response).ok());
  shutdown.join();
  EXPECT_GE(absl::Now() - start, absl::Seconds(3));
}

TEST(GrpcServerTest, ShutdownCancelsCallsThatOutliveTheGracePeriod) {
  SlowDetectorService slow;
  auto server = GrpcServer::Start(LocalConfig(), {.service_name = "slow"}, {&slow});
  ASSERT_THAT(server, IsOk());
  auto stub =
      stache::detector::v1::DetectorService::NewStub(ChannelTo((*server)->port()));
  grpc::Status in_flight_status;
  std::thread in_flight([&] {
    grpc::ClientContext context;
    stache::detector::v1::DetectResponse response;
    in_flight_status = stub->Detect(&context, {}, &response);
  });
  ASSERT_TRUE(slow.started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time start = absl::Now();
  std::thread release_later([&] {
    absl::SleepFor(absl::Seconds(3));
    slow.release.Notify();
  });
  (*server)->Shutdown(absl::Milliseconds(200));
  in_flight.join();
  release_later.join();
  EXPECT_FALSE(in_flight_status.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3) + absl::Milliseconds(500));
}

// Waits (polling IsCancelled, as core code does between stages) until the
// call ends or 20 s pass; counts the calls that saw their cancellation.
class PatientDetectorService final
    : public stache::detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext* context,
                      const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse*) override {
    return HandleCall(*context, [&]() -> absl::Status {
      const CallDeadline deadline = DeadlineOf(*context);
      const absl::Time give_up = absl::Now() + absl::Seconds(20);
      while (absl::Now() < give_up) {
        if (absl::Status status = deadline.Check("the next step"); !status.ok()) {
          ++stopped;
          return status;
        }
        absl::SleepFor(absl::Milliseconds(10));
      }
      return absl::OkStatus();
    });
  }
  std::atomic<int> stopped{0};
};

// 34 idle reflection streams used to take every thread of a server limited
// to 32 calls, and every upload failed (#12).
TEST(GrpcServerTest, IdleReflectionStreamsDoNotStarveUnaryCalls) {
  SlowDetectorService fast;
  fast.release.Notify();
  ServerConfig config = LocalConfig();
  config.max_concurrent_calls = 2;
  config.max_control_streams = 2;
  auto server = GrpcServer::Start(config, {.service_name = "t"}, {&fast});
  ASSERT_THAT(server, IsOk());
  auto channel = ChannelTo((*server)->port());
  grpc::GenericStub generic(channel);
  std::vector<std::unique_ptr<IdleStream>> idle;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<IdleStream>(generic, kReflectionMethod));
  }
  for (auto& stream : idle) {
    std::optional<grpc::Status> ended = stream->WaitForEnd(absl::Milliseconds(200));
    if (ended.has_value()) {
      EXPECT_EQ(ended->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << ended->error_message();
      EXPECT_THAT(ended->error_message(), HasSubstr("--max_control_streams"));
      ++refused;
    }
  }
  EXPECT_EQ(refused, 8);
  EXPECT_EQ((*server)->InFlight(CallKind::kControlStream), 2);
  // Both unary slots are still there, at the same time.
  auto stub = stache::detector::v1::DetectorService::NewStub(channel);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      stache::detector::v1::DetectResponse response;
      if (stub->Detect(&context, {}, &response).ok()) ++ok;
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(ok, 2);
}

TEST(GrpcServerTest, IdleStreamsEndAfterTheIdleTimeout) {
  ServerConfig config = LocalConfig();
  config.stream_idle_timeout = absl::Milliseconds(300);
  auto server = GrpcServer::Start(config, {.service_name = "t"}, {});
  ASSERT_THAT(server, IsOk());
  grpc::GenericStub generic(ChannelTo((*server)->port()));
  const absl::Time start = absl::Now();
  IdleStream stream(generic, kReflectionMethod);
  std::optional<grpc::Status> ended = stream.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(ended->error_message(), HasSubstr("idle"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_TRUE(::stache::testing::WaitFor(
      [&] { return (*server)->InFlight(CallKind::kControlStream) == 0; },
      absl::Seconds(5)));
}

TEST(GrpcServerTest, CallsWithoutADeadlineGetTheServersDefaultAndTheHandlerStops) {
  PatientDetectorService patient;
  ServerConfig config = LocalConfig();
  config.default_call_deadline = absl::Milliseconds(300);
  auto server = GrpcServer::Start(config, {.service_name = "t"}, {&patient});
  ASSERT_THAT(server, IsOk());
  auto stub =
      stache::detector::v1::DetectorService::NewStub(ChannelTo((*server)->port()));
  grpc::ClientContext context;  // no deadline
  stache::detector::v1::DetectResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub->Detect(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("without a deadline"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(
      ::stache::testing::WaitFor([&] { return patient.stopped == 1; }, absl::Seconds(5)));
}

TEST(GrpcServerTest, AClientsCancellationReachesTheHandler) {
  PatientDetectorService patient;
  auto server = GrpcServer::Start(LocalConfig(), {.service_name = "t"}, {&patient});
  ASSERT_THAT(server, IsOk());
  auto stub =
      stache::detector::v1::DetectorService::NewStub(ChannelTo((*server)->port()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  stache::detector::v1::DetectResponse response;
  EXPECT_EQ(stub->Detect(&context, {}, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(
      ::stache::testing::WaitFor([&] { return patient.stopped == 1; }, absl::Seconds(5)));
}

class ThrowingDetectorService final
    : public stache::detector::v1::DetectorService::Service {
 public:
  grpc::Status Detect(grpc::ServerContext* context,
                      const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse*) override {
    return HandleCall(*context, []() -> absl::Status {
      throw std::runtime_error("/srv/secret/path: library failure");
    });
  }
};

TEST(GrpcServerTest, AnExceptionInAHandlerIsInternalWithTheRequestId) {
  ThrowingDetectorService throwing;
  auto server = GrpcServer::Start(LocalConfig(), {.service_name = "t"}, {&throwing});
  ASSERT_THAT(server, IsOk());
  auto stub =
      stache::detector::v1::DetectorService::NewStub(ChannelTo((*server)->port()));
  grpc::ClientContext context;  // no request id: the server makes one
  stache::detector::v1::DetectResponse response;
  grpc::Status status = stub->Detect(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  const auto& trailers = context.GetServerTrailingMetadata();
  ASSERT_EQ(trailers.count("x-request-id"), 1u);
  const grpc::string_ref id = trailers.find("x-request-id")->second;
  EXPECT_THAT(status.error_message(), HasSubstr(std::string(id.data(), id.size())));
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("/srv")));
  // Still serving.
  grpc::ClientContext again;
  EXPECT_EQ(stub->Detect(&again, {}, &response).error_code(), grpc::StatusCode::INTERNAL);
}

// Records the client address of each call: a new address is a new
// connection. The first call is held for a while, across a recycling.
class PeerRecordingDetectorService final
    : public stache::detector::v1::DetectorService::Service {
 public:
  struct Call {
    std::string peer;
    absl::Time time;
  };
  grpc::Status Detect(grpc::ServerContext* context,
                      const stache::detector::v1::DetectRequest*,
                      stache::detector::v1::DetectResponse*) override {
    bool first;
    {
      absl::MutexLock lock(&mutex_);
      first = calls_.empty();
      calls_.push_back({context->peer(), absl::Now()});
    }
    if (first) absl::SleepFor(hold_first_call);
    return grpc::Status::OK;
  }
  std::vector<Call> calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }
  absl::Duration hold_first_call = absl::ZeroDuration();

 private:
  absl::Mutex mutex_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mutex_);
};

// After a scale-out, new replicas get calls only once clients reconnect and
// resolve the name again: the maximum connection age bounds how long that
// takes, and recycling a connection must not fail a call.
TEST(GrpcServerTest, RecyclesEachConnectionWithinItsMaximumAgeAndNoCallFails) {
  constexpr absl::Duration kAge = absl::Milliseconds(400);
  ServerConfig config = LocalConfig();
  config.max_connection_age = kAge;
  config.max_connection_age_grace = absl::Seconds(10);
  PeerRecordingDetectorService detector;
  detector.hold_first_call = 3 * kAge;  // in flight when its connection goes away
  auto server = GrpcServer::Start(config, {.service_name = "d"}, {&detector});
  ASSERT_THAT(server, IsOk());
  auto stub = stache::detector::v1::DetectorService::NewStub(
      MakeChannel(absl::StrCat("127.0.0.1:", (*server)->port()), config.max_image_bytes));

  auto call = [&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    stache::detector::v1::DetectResponse response;
    return stub->Detect(&context, {}, &response);
  };
  grpc::Status held_status;
  std::thread held([&] { held_status = call(); });
  ASSERT_TRUE(::stache::testing::WaitFor([&] { return !detector.calls().empty(); },
                                         absl::Seconds(10)));
  int failed = 0;
  const absl::Time end = absl::Now() + 8 * kAge;
  for (int i = 0; i < 1000 && absl::Now() < end; ++i) {
    grpc::Status status = call();
    if (!status.ok()) {
      ++failed;
      ADD_FAILURE() << "call " << i << ": " << status.error_message();
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  held.join();
  EXPECT_TRUE(held_status.ok()) << "a call in flight outlives its connection's age: "
                                << held_status.error_message();
  EXPECT_EQ(failed, 0);

  // Each connection served calls for at most its age (plus gRPC's 10%
  // jitter, and slack for a loaded machine), then another took over.
  std::map<std::string, std::pair<absl::Time, absl::Time>> spans;
  for (const auto& [peer, time] : detector.calls()) {
    auto [it, inserted] = spans.try_emplace(peer, time, time);
    if (!inserted) it->second.second = time;
  }
  EXPECT_GE(spans.size(), 4u) << "connections were not recycled";
  for (const auto& [peer, span] : spans) {
    EXPECT_LE(span.second - span.first, kAge * 1.1 + absl::Milliseconds(300)) << peer;
  }
}

TEST(GrpcServerTest, RefusesANonPositiveConnectionAge) {
  ServerConfig config = LocalConfig();
  config.max_connection_age = absl::ZeroDuration();
  EXPECT_THAT(
      GrpcServer::Start(config, {.service_name = "d"}, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_connection_age")));
}

}  // namespace
}  // namespace stache::server
