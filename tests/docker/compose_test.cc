// The suite as containers, for real: Compose brings it up from the images
// deploy/build-images.sh built (the docker_images ctest fixture), uploads go
// through the published load-balancer port to two gateways, a rolling
// replacement of every container of every service under load drops nothing,
// and a replica added by scaling out takes calls within seconds. Skips with a
// clear message where no Docker daemon is reachable.
//
// What these cannot show: AWS itself (an ALB's health checks and draining,
// ECS's deployment circuit breaker, S3's stricter request rules; see
// tests/deploy for what is checked offline), and versions other than HEAD's
// (the "old" and "new" images are the same commit under two version labels).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::stache::testing::PickUnusedPort;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::stache::testing::WaitFor;

const std::string kRepo = STACHE_SOURCE_DIR;
// Tags that tests/CMakeLists.txt's docker_images fixture builds.
constexpr char kOldTag[] = "test-old";
constexpr char kNewTag[] = "test-new";
constexpr char kNewVersion[] = "0.1.1-rolling";
// The replicas compose.yaml starts of each service the tests roll.
const std::map<std::string, int> kReplicas = {
    {"gateway", 2}, {"detector", 2}, {"overlay", 1}, {"storage", 2}};

// Every image of a stack: the stache services at the tags given, the
// stack's own infrastructure (init, MinIO, the load balancer) old.
std::map<std::string, std::string> StackImages(const std::string& gateway,
                                               const std::string& detector_overlay,
                                               const std::string& storage = kOldTag) {
  return {{"gateway", gateway},
          {"detector", detector_overlay},
          {"overlay", detector_overlay},
          {"storage", storage},
          {"init", kOldTag},
          {"minio", kOldTag},
          {"lb", kOldTag}};
}

bool DockerAvailable() {
  return RunCommand({"docker", "info"}, absl::Seconds(20)).exit_code == 0;
}

std::string Trim(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

// One Compose project, torn down (with its volumes and any container the
// test added under its label) on destruction.
class ComposeStack final {
 public:
  explicit ComposeStack(std::map<std::string, std::string> service_tags)
      : project_(absl::StrCat("stachetest", getpid(), counter_++)),
        port_(PickUnusedPort()),
        tags_(std::move(service_tags)) {}

  ~ComposeStack() {
    RunCommand({"sh", "-c",
                absl::StrCat("docker rm -f $(docker ps -aq --filter label=stache-test=",
                             project_, ") 2>/dev/null")},
               absl::Seconds(60));
    Compose({"down", "--volumes", "--timeout", "5"}, absl::Seconds(120));
  }

  testing::CommandResult Compose(std::vector<std::string> args,
                                 absl::Duration timeout = absl::Seconds(300)) {
    // An override file pins each service's image tag.
    const std::string override_path =
        absl::StrCat(testing::MakeTempDir(), "/override.yaml");
    std::string text = "services:\n";
    std::map<std::string, std::string> images;
    for (const auto& [service, tag] : tags_)
      images[service] = absl::StrCat(service, ":", tag);
    images["bucket"] =
        absl::StrCat("init:", tags_.at("init"));  // the init image's other job
    for (const auto& [service, image] : images) {
      absl::StrAppend(&text, "  ", service, ":\n    image: stache-", image,
                      "\n    labels:\n      stache-test: ", project_, "\n");
    }
    std::ofstream(override_path) << text;
    std::vector<std::string> argv = {"/usr/bin/env",
                                     absl::StrCat("STACHE_GATEWAY_PORT=", port_),
                                     "docker-compose",
                                     "-p",
                                     project_,
                                     "-f",
                                     kRepo + "/deploy/compose.yaml",
                                     "-f",
                                     override_path};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, timeout);
  }

  bool Up() {
    auto result = Compose({"up", "-d"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result.exit_code == 0 &&
           WaitFor([&] { return Get("/readyz") == 200; }, absl::Seconds(180));
  }

  int Get(const std::string& path, std::string* body = nullptr) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(10);
    auto response = client.Get(path);
    if (!response) return 0;
    if (body != nullptr) *body = response->body;
    return response->status;
  }

  // Uploads a photo; returns the HTTP status (0 when the connection failed)
  // and the body.
  int Upload(const std::string& photo, std::string* body) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(5);
    client.set_read_timeout(60);
    httplib::MultipartFormDataItems items = {{"image", photo, "photo.jpg", "image/jpeg"}};
    auto response = client.Post("/v1/images", items);
    if (!response) return 0;
    *body = response->body;
    return response->status;
  }

  std::vector<std::string> ContainersOf(const std::string& service) {
    auto result = RunCommand({"docker", "ps", "-q", "--filter",
                              "label=com.docker.compose.project=" + project_, "--filter",
                              "label=com.docker.compose.service=" + service});
    return absl::StrSplit(Trim(result.output), '\n', absl::SkipEmpty());
  }

  std::string network() const { return project_ + "_default"; }
  const std::string& project() const { return project_; }

 private:
  static inline std::atomic<int> counter_{0};
  const std::string project_;
  const int port_;
  const std::map<std::string, std::string> tags_;
};

std::string Inspect(const std::string& container, const std::string& format) {
  return Trim(RunCommand({"docker", "inspect", "-f", format, container}).output);
}

std::string HealthOf(const std::string& container) {
  return Inspect(container, "{{.State.Health.Status}}");
}

// Start new, wait healthy, SIGTERM old with its grace period: what ECS does
// with minimumHealthyPercent 100. The new container gets the old one's
// configuration (STACHE_* and AWS_* environment), secrets volume
// (certificates, keys) and hardening (read-only root, no capabilities, the
// memory limit).
void ReplaceContainer(ComposeStack& stack, const std::string& service,
                      const std::string& old_container, int index) {
  const std::string name = absl::StrCat(stack.project(), "-", service, "-new", index);
  std::vector<std::string> argv = {"docker",
                                   "run",
                                   "-d",
                                   "--name",
                                   name,
                                   "--network",
                                   stack.network(),
                                   "--network-alias",
                                   service,
                                   "--label",
                                   "stache-test=" + stack.project(),
                                   "--volumes-from",
                                   old_container,
                                   "--read-only",
                                   "--tmpfs",
                                   "/tmp",
                                   "--cap-drop",
                                   "ALL",
                                   "--security-opt",
                                   "no-new-privileges:true",
                                   "--memory",
                                   Inspect(old_container, "{{.HostConfig.Memory}}")};
  const std::string env =
      Inspect(old_container, "{{range .Config.Env}}{{println .}}{{end}}");
  for (absl::string_view variable : absl::StrSplit(env, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(variable, "STACHE_") || absl::StartsWith(variable, "AWS_")) {
      argv.push_back("-e");
      argv.emplace_back(variable);
    }
  }
  argv.push_back(absl::StrCat("stache-", service, ":", kNewTag));
  auto run = RunCommand(argv);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(WaitFor([&] { return HealthOf(name) == "healthy"; }, absl::Seconds(120)))
      << name << " never became healthy";
  auto stop =
      RunCommand({"docker", "stop", "-t", "25", old_container}, absl::Seconds(60));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(Inspect(old_container, "{{.State.ExitCode}}"), "0")
      << "old " << service << " did not exit cleanly";
  RunCommand({"docker", "rm", old_container});
}

// Uploads from `clients` threads until `stop` says so (or a hard bound),
// counting what succeeded and recording what did not.
class UploadLoad {
 public:
  UploadLoad(ComposeStack& stack, const std::string& photo, int clients,
             std::function<bool()> stop) {
    const absl::Time hard_deadline = absl::Now() + absl::Minutes(10);
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([&stack, &photo, stop, hard_deadline, this] {
        while (!stop() && absl::Now() < hard_deadline) {
          std::string body;
          const int status = stack.Upload(photo, &body);
          if (status == 201) {
            ++succeeded_;
          } else {
            absl::MutexLock lock(&mutex_);
            failures_.push_back(absl::StrCat(status, " ", body.substr(0, 200)));
          }
        }
      });
    }
  }
  ~UploadLoad() { Join(); }

  void Join() {
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  int succeeded() const { return succeeded_.load(); }
  std::vector<std::string> failures() {
    absl::MutexLock lock(&mutex_);
    return failures_;
  }

 private:
  std::atomic<int> succeeded_{0};
  absl::Mutex mutex_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

// Detect calls a detector container has answered, from its /metrics (admin
// port 9091), asked from a container on the stack's network.
int DetectCallsServedBy(ComposeStack& stack, const std::string& container) {
  const std::string address =
      Inspect(container, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
  const auto metrics =
      RunCommand({"docker", "run", "--rm", "--network", stack.network(), "--label",
                  "stache-test=" + stack.project(), "--entrypoint", "curl",
                  absl::StrCat("stache-init:", kOldTag), "-fsS",
                  absl::StrCat("http://", address, ":9091/metrics")},
                 absl::Seconds(30));
  int calls = 0;
  for (absl::string_view line : absl::StrSplit(metrics.output, '\n')) {
    if (!absl::StartsWith(line, "stache_grpc_server_handled_total{") ||
        !absl::StrContains(line, "grpc_method=\"Detect\"")) {
      continue;
    }
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value))
      calls += static_cast<int>(value);
  }
  return calls;
}

class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DockerAvailable())
      GTEST_SKIP() << "no Docker daemon reachable: `docker info` failed";
    photo_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  }
  std::string photo_;
};

TEST_F(ComposeTest, UpServesUploadsThroughEveryReplica) {
  ComposeStack stack(StackImages(kOldTag, kOldTag));
  ASSERT_TRUE(stack.Up());
  for (const auto& [service, replicas] : kReplicas) {
    EXPECT_EQ(stack.ContainersOf(service).size(), static_cast<size_t>(replicas))
        << service;
  }
  std::string body;
  ASSERT_EQ(stack.Upload(photo_, &body), 201) << body;
  auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["faces"].size(), 1u) << body;
  // Stored in MinIO by one storage replica, read back through whichever.
  for (int i = 0; i < 4; ++i) {
    std::string result;
    EXPECT_EQ(
        stack.Get(absl::StrCat("/v1/images/", json["id"].get<std::string>(), "/result"),
                  &result),
        200);
    EXPECT_GT(result.size(), 1000u);
  }
  // The gateway's status board reaches every replica over TLS too (it asks
  // each resolved address, verified by the service's name).
  std::string info;
  ASSERT_EQ(stack.Get("/v1/info", &info), 200);
  std::map<std::string, int> instances;
  // Parsed into a variable: a range-for over a member of a temporary would
  // iterate a destroyed object.
  const nlohmann::json parsed = nlohmann::json::parse(info);
  for (const auto& backend : parsed["backends"]) {
    instances[backend.value("name", "")] += backend.value("instances", 0);
  }
  EXPECT_EQ(instances["detector"], 2) << info;
  EXPECT_EQ(instances["overlay"], 1) << info;
  EXPECT_EQ(instances["storage"], 2) << info;
  // Hardened as compose.yaml says, whatever the image allows.
  for (const std::string& container : stack.ContainersOf("storage")) {
    EXPECT_EQ(Inspect(container, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    EXPECT_EQ(Inspect(container, "{{.HostConfig.CapDrop}}"), "[ALL]");
    EXPECT_NE(Inspect(container, "{{.HostConfig.Memory}}"), "0");
  }
}

// The hops inside the stack are mutual TLS: a container on the stack's
// network without a certificate from the stack's CA reaches no backend, and
// one with a service's certificate does.
TEST_F(ComposeTest, BackendsRefuseCallersWithoutTheStacksCertificate) {
  ComposeStack stack(StackImages(kOldTag, kOldTag));
  ASSERT_TRUE(stack.Up());
  const std::vector<std::string> detectors = stack.ContainersOf("detector");
  ASSERT_FALSE(detectors.empty());
  for (const std::string target : {"storage:50053", "detector:50051", "overlay:50052"}) {
    const std::vector<std::string> probe = {"docker",
                                            "run",
                                            "--rm",
                                            "--network",
                                            stack.network(),
                                            "--label",
                                            "stache-test=" + stack.project(),
                                            "--entrypoint",
                                            "stache-healthcheck"};
    std::vector<std::string> plaintext = probe;
    plaintext.insert(plaintext.end(),
                     {absl::StrCat("stache-storage:", kOldTag), "--grpc=" + target});
    EXPECT_NE(RunCommand(plaintext, absl::Seconds(60)).exit_code, 0)
        << target << " answered a plaintext client";
    std::vector<std::string> with_certificate = probe;
    with_certificate.insert(
        with_certificate.end(),
        {"--volumes-from", detectors[0], "-e", "STACHE_TLS_CA=/run/stache/ca.crt", "-e",
         "STACHE_TLS_CERT=/run/stache/tls.crt", "-e",
         "STACHE_TLS_KEY=/run/stache/tls.key", absl::StrCat("stache-storage:", kOldTag),
         "--grpc=" + target});
    const auto result = RunCommand(with_certificate, absl::Seconds(60));
    EXPECT_EQ(result.exit_code, 0) << target << ": " << result.output;
  }
}

// Every container of every service replaced, one at a time, while eight
// clients upload through the load balancer for at least a minute.
TEST_F(ComposeTest, RollingEveryServiceUnderLoadDropsNoUpload) {
  ComposeStack stack(StackImages(kOldTag, kOldTag));
  ASSERT_TRUE(stack.Up());

  std::atomic<bool> replacing_done{false};
  const absl::Time minimum_end = absl::Now() + absl::Seconds(60);
  UploadLoad load(stack, photo_, 8,
                  [&] { return replacing_done && absl::Now() >= minimum_end; });
  int index = 0;
  for (const std::string service : {"storage", "detector", "overlay", "gateway"}) {
    for (const std::string& old_container : stack.ContainersOf(service)) {
      ReplaceContainer(stack, service, old_container, index++);
    }
  }
  replacing_done = true;
  load.Join();

  EXPECT_GE(load.succeeded(), 300);
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  // Asked several times, so the load balancer reaches both gateways.
  for (int i = 0; i < 6; ++i) {
    std::string info;
    ASSERT_EQ(stack.Get("/v1/info", &info), 200);
    const nlohmann::json parsed = nlohmann::json::parse(info);
    EXPECT_EQ(parsed["gateway"].value("version", ""), kNewVersion) << info;
    std::map<std::string, int> new_instances;
    for (const auto& backend : parsed["backends"]) {
      const std::string name = backend.value("name", "");
      EXPECT_EQ(backend.value("version", ""), kNewVersion) << backend.dump();
      if (backend.value("version", "") == kNewVersion) {
        new_instances[name] += backend.value("instances", 0);
      }
    }
    // A service missing from the board fails here too.
    for (const std::string service : {"detector", "overlay", "storage"}) {
      EXPECT_EQ(new_instances[service], kReplicas.at(service)) << service << ": " << info;
    }
  }
}

// Scaled out while uploads flow: the new detector answers Detect calls soon
// after it is healthy, because servers close connections after
// STACHE_MAX_CONNECTION_AGE and the gateway then re-resolves the name.
TEST_F(ComposeTest, AScaledOutDetectorServesCallsWithinSecondsOfBeingHealthy) {
  ComposeStack stack(StackImages(kOldTag, kOldTag));
  ASSERT_TRUE(stack.Up());
  const std::vector<std::string> before = stack.ContainersOf("detector");
  std::atomic<bool> done{false};
  UploadLoad load(stack, photo_, 4, [&] { return done.load(); });

  auto scale = stack.Compose({"up", "-d", "--no-recreate", "--scale", "detector=3"});
  ASSERT_EQ(scale.exit_code, 0) << scale.output;
  std::string added;
  for (const std::string& container : stack.ContainersOf("detector")) {
    if (std::find(before.begin(), before.end(), container) == before.end())
      added = container;
  }
  ASSERT_FALSE(added.empty()) << "no third detector";
  ASSERT_TRUE(WaitFor([&] { return HealthOf(added) == "healthy"; }, absl::Seconds(120)));
  const absl::Time healthy = absl::Now();
  const bool served =
      WaitFor([&] { return DetectCallsServedBy(stack, added) > 0; }, absl::Seconds(10));
  const absl::Duration waited = absl::Now() - healthy;
  done = true;
  load.Join();
  EXPECT_TRUE(served) << "the third detector served no call within 10 s of being healthy";
  EXPECT_LE(waited, absl::Seconds(12)) << waited;  // each probe itself takes ~1 s
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
}

TEST_F(ComposeTest, NewGatewayWorksWithOldServicesAndTheReverse) {
  for (const auto& [gateway_tag, services_tag] :
       std::vector<std::pair<std::string, std::string>>{{kNewTag, kOldTag},
                                                        {kOldTag, kNewTag}}) {
    ComposeStack stack(StackImages(gateway_tag, services_tag, services_tag));
    ASSERT_TRUE(stack.Up()) << "gateway " << gateway_tag << ", services " << services_tag;
    std::string body;
    EXPECT_EQ(stack.Upload(photo_, &body), 201) << body;
  }
}

}  // namespace
}  // namespace stache
