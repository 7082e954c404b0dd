// SIGTERM drains (issue #7): with a healthy peer beside it, a storage,
// detector, overlay or gateway process told to stop finishes the work it has
// in flight and exits 0, and not one upload fails while uploads keep
// flowing through the suite.
//
// Every service runs as the real binary on loopback. The service under test
// runs twice; the gateway reaches the pair through one gRPC target naming
// both addresses (client-side round robin, as DNS names do on Compose and
// ECS). Two storage processes share a MinIO bucket, the scale-out backend.
// For the gateway, the test's client plays the load balancer: it sends new
// uploads only to registered gateways and deregisters one before stopping
// it, as ECS does with an ALB target.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/testing/raw_connection.h"
#include "nlohmann/json.hpp"
#include "storage/testing/minio_server.h"
#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::stache::gateway::testing::RawConnection;
using ::stache::gateway::testing::UploadHeaders;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::TestDataPath;
using ::stache::testing::WaitFor;

constexpr int kClients = 4;
// Bounds of the load, whatever happens.
constexpr int kMaxUploads = 600;
constexpr absl::Duration kMaxLoadTime = absl::Seconds(90);
// Uploads that must succeed before the stop, and after the stopped process
// has exited (served by the peer alone).
constexpr int kUploadsBefore = 8;
constexpr int kUploadsAfter = 8;

struct Replica {
  int port = 0;
  int admin_port = 0;
  std::unique_ptr<ChildProcess> process;
};

// One finished upload, as the client saw it.
struct Upload {
  int gateway = 0;  // index of the gateway it went to
  int status = 0;   // 0: no HTTP answer
  std::string body;
  absl::Time start, end;
};

// The sum of the gRPC in-flight gauges of the service's own RPCs.
double GrpcCallsInFlight(int admin_port) {
  httplib::Client admin("127.0.0.1", admin_port);
  httplib::Result metrics = admin.Get("/metrics");
  if (!metrics || metrics->status != 200) return 0;
  double total = 0;
  for (absl::string_view line : absl::StrSplit(metrics->body, '\n')) {
    if (!absl::StartsWith(line, "stache_grpc_server_in_flight_calls{") ||
        absl::StrContains(line, "grpc.health")) {
      continue;
    }
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) total += value;
  }
  return total;
}

class DrainTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    photo_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
    ASSERT_FALSE(photo_.empty());
    const std::string& stopped = GetParam();
    std::vector<std::string> storage_flags = {"--data_dir=" +
                                              stache::testing::MakeTempDir()};
    std::map<std::string, std::string> storage_env;
    if (stopped == "storage") {
      // Two storage tasks share state only through S3.
      std::string skip_reason;
      storage::testing::MinioServer* minio =
          storage::testing::MinioServer::Shared(&skip_reason);
      ASSERT_NE(minio, nullptr) << skip_reason;
      absl::StatusOr<std::string> bucket = minio->CreateBucket();
      ASSERT_TRUE(bucket.ok()) << bucket.status();
      storage_flags = {"--backend=s3", "--s3_endpoint=" + minio->endpoint(),
                       "--s3_bucket=" + *bucket};
      storage_env = {{"AWS_ACCESS_KEY_ID", storage::testing::kMinioAccessKey},
                     {"AWS_SECRET_ACCESS_KEY", storage::testing::kMinioSecretKey}};
    }
    for (const std::string service : {"storage", "detector", "overlay"}) {
      const int replicas = service == stopped ? 2 : 1;
      for (int i = 0; i < replicas; ++i) {
        services_[service].push_back(StartReplica(
            service, service == "storage" ? storage_flags : std::vector<std::string>{},
            service == "storage" ? storage_env : std::map<std::string, std::string>{}));
      }
    }
    const std::vector<std::string> gateway_flags = {
        "--detector_address=" + Target("detector"),
        "--overlay_address=" + Target("overlay"),
        "--storage_address=" + Target("storage"), "--backend_timeout=20s",
        "--http_keep_alive_timeout=1s"};
    for (int i = 0; i < (stopped == "gateway" ? 2 : 1); ++i) {
      services_["gateway"].push_back(StartReplica("gateway", gateway_flags, {}));
      absl::MutexLock lock(&mutex_);
      registered_.push_back(true);
      in_flight_.push_back(std::make_unique<std::atomic<int>>(0));
    }
    for (const Replica& gateway : services_["gateway"]) {
      ASSERT_TRUE(WaitFor(
          [&] {
            httplib::Client client("127.0.0.1", gateway.port);
            httplib::Result ready = client.Get("/readyz");
            return ready && ready->status == 200;
          },
          absl::Seconds(60)))
          << Logs();
    }
  }

  void TearDown() override {
    stop_load_ = true;
    for (std::thread& client : clients_) client.join();
  }

  Replica StartReplica(const std::string& service, std::vector<std::string> flags,
                       const std::map<std::string, std::string>& env) {
    Replica replica{.port = PickUnusedPort()};
    flags.insert(flags.begin(),
                 {BinaryPath("stache-" + service), absl::StrCat("--port=", replica.port),
                  "--grace_period=15s"});
    // The gateway has one too (its /metrics); each on a port of its own.
    replica.admin_port = PickUnusedPort();
    flags.push_back(absl::StrCat("--admin_port=", replica.admin_port));
    replica.process = e2e::StartOnLoopback(std::move(flags), replica.port, env);
    return replica;
  }

  // "ipv4:127.0.0.1:<port>,127.0.0.1:<port>" for the service's replicas.
  std::string Target(const std::string& service) {
    std::vector<std::string> addresses;
    for (const Replica& replica : services_[service]) {
      addresses.push_back(absl::StrCat("127.0.0.1:", replica.port));
    }
    return "ipv4:" + absl::StrJoin(addresses, ",");
  }

  void StartLoad() {
    for (int i = 0; i < kClients; ++i) {
      clients_.emplace_back([this, i] {
        const absl::Time deadline = absl::Now() + kMaxLoadTime;
        for (int n = i; !stop_load_ && absl::Now() < deadline; ++n) {
          int gateway = 0;
          {
            absl::MutexLock lock(&mutex_);
            if (uploads_.size() >= kMaxUploads) return;
            gateway = n % static_cast<int>(registered_.size());
            if (!registered_[gateway]) gateway = (gateway + 1) % registered_.size();
            ++*in_flight_[gateway];
          }
          Upload upload{.gateway = gateway, .start = absl::Now()};
          httplib::Client client("127.0.0.1", services_.at("gateway")[gateway].port);
          client.set_connection_timeout(5);
          client.set_read_timeout(30);
          httplib::Result response = client.Post(
              "/v1/images", httplib::MultipartFormDataItems{
                                {"image", photo_, "grace_hopper.jpg", "image/jpeg"}});
          upload.end = absl::Now();
          --*in_flight_[gateway];
          if (response) {
            upload.status = response->status;
            upload.body = response->body;
          } else {
            upload.body = httplib::to_string(response.error());
          }
          absl::MutexLock lock(&mutex_);
          uploads_.push_back(std::move(upload));
        }
      });
    }
  }

  // Waits until `count` uploads started after `since` have succeeded; false
  // at once when one has failed, or after a minute.
  bool WaitForSuccesses(int count, absl::Time since) {
    bool failed = false;
    int succeeded = 0;
    WaitFor(
        [&] {
          absl::MutexLock lock(&mutex_);
          succeeded = 0;
          for (const Upload& upload : uploads_) {
            failed |= upload.status != 201;
            succeeded += upload.status == 201 && upload.start > since;
          }
          return failed || succeeded >= count;
        },
        absl::Seconds(60));
    return !failed && succeeded >= count;
  }

  // The first failed upload and every process's output, for a failure
  // message.
  std::string FirstFailure() {
    std::string failure = "no upload failed";
    {
      absl::MutexLock lock(&mutex_);
      for (const Upload& upload : uploads_) {
        if (upload.status == 201) continue;
        failure = absl::StrCat("an upload to gateway ", upload.gateway, " started at ",
                               absl::FormatTime(upload.start), " failed with ",
                               upload.status, ": ", upload.body);
        break;
      }
    }
    return absl::StrCat(failure, "\n", Logs());
  }

  std::string Logs() {
    std::string logs;
    for (auto& [service, replicas] : services_) {
      for (size_t i = 0; i < replicas.size(); ++i) {
        absl::StrAppend(&logs, "--- ", service, " ", i, "\n",
                        replicas[i].process->Output());
      }
    }
    return logs;
  }

  std::string photo_;
  std::map<std::string, std::vector<Replica>> services_;
  // Per gateway: whether the "load balancer" sends it new uploads, and how
  // many of the client's uploads it is serving now.
  std::vector<bool> registered_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::unique_ptr<std::atomic<int>>> in_flight_;
  std::vector<std::thread> clients_;
  std::atomic<bool> stop_load_ = false;
  absl::Mutex mutex_;
  std::vector<Upload> uploads_ ABSL_GUARDED_BY(mutex_);
};

TEST_P(DrainTest, NoUploadFailsWhileOneReplicaIsStopped) {
  const std::string& stopped = GetParam();
  Replica& victim = services_[stopped][0];
  StartLoad();
  ASSERT_TRUE(WaitForSuccesses(kUploadsBefore, absl::InfinitePast())) << FirstFailure();

  // Stop it while it is busy, so there is work in flight to finish.
  std::unique_ptr<RawConnection> slow_upload;
  if (stopped == "gateway") {
    // An upload whose body is still arriving when the gateway is told to
    // stop, as a slow client's would be after the balancer's deregistration
    // delay; the rest of its body comes after the listener has closed.
    slow_upload = std::make_unique<RawConnection>(victim.port);
    ASSERT_TRUE(slow_upload->Send(UploadHeaders(static_cast<int64_t>(photo_.size())) +
                                  photo_.substr(0, photo_.size() / 2)));
    {
      absl::MutexLock lock(&mutex_);
      registered_[0] = false;
    }
    ASSERT_TRUE(WaitFor([&] { return *in_flight_[0] == 0; }, absl::Seconds(30)));
  } else {
    ASSERT_TRUE(WaitFor([&] { return GrpcCallsInFlight(victim.admin_port) > 0; },
                        absl::Seconds(20)));
  }
  const absl::Time stop_time = absl::Now();
  victim.process->Signal(SIGTERM);
  std::vector<std::string> ids;
  if (slow_upload != nullptr) {
    ASSERT_TRUE(
        WaitFor([&] { return !PortAcceptsConnections(victim.port); }, absl::Seconds(10)));
    ASSERT_TRUE(slow_upload->Send(photo_.substr(photo_.size() / 2)));
    const std::string answer = slow_upload->ReadUntilClosed(absl::Seconds(20));
    ASSERT_TRUE(absl::StartsWith(answer, "HTTP/1.1 201")) << answer << Logs();
    ids.push_back(
        nlohmann::json::parse(answer.substr(answer.find("\r\n\r\n") + 4))["id"]);
  }
  EXPECT_EQ(victim.process->Wait(absl::Seconds(20)), 0) << victim.process->Output();
  const absl::Time exit_time = absl::Now();

  ASSERT_TRUE(WaitForSuccesses(kUploadsAfter, exit_time))
      << "SIGTERM at " << absl::FormatTime(stop_time) << ": " << FirstFailure();
  stop_load_ = true;
  for (std::thread& client : clients_) client.join();
  clients_.clear();

  absl::MutexLock lock(&mutex_);
  int in_flight_at_stop = 0;
  for (const Upload& upload : uploads_) {
    ASSERT_EQ(upload.status, 201) << upload.body;  // checked above, for the last few
    in_flight_at_stop += upload.start < stop_time && upload.end > stop_time;
    ids.push_back(nlohmann::json::parse(upload.body)["id"]);
  }
  if (stopped != "gateway") {
    EXPECT_GT(in_flight_at_stop, 0) << "no upload was in flight at the SIGTERM";
  }

  // Nothing acknowledged was lost: every upload's record and both images
  // are there, through a gateway that is still running.
  Replica& gateway =
      stopped == "gateway" ? services_["gateway"][1] : services_["gateway"][0];
  httplib::Client client("127.0.0.1", gateway.port);
  for (const std::string& id : ids) {
    for (const std::string suffix : {"", "/original", "/result"}) {
      httplib::Result got = client.Get(absl::StrCat("/v1/images/", id, suffix));
      ASSERT_TRUE(got) << id << suffix;
      EXPECT_EQ(got->status, 200) << id << suffix << ": " << got->body;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryService, DrainTest,
                         ::testing::Values("storage", "detector", "overlay", "gateway"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace stache
