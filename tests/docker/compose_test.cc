// The suite as containers, for real: Compose brings it up from the images
// deploy/build-images.sh built (the docker_images ctest fixture), uploads go
// through the published gateway port, and a rolling replacement of every
// detector and overlay container under load drops nothing. Skips with a
// clear message where no Docker daemon is reachable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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

bool DockerAvailable() { return RunCommand({"docker", "info"}, absl::Seconds(20)).exit_code == 0; }

std::string Trim(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

// One Compose project, torn down (with its volumes and any container the
// test added under its label) on destruction.
class ComposeStack final {
 public:
  ComposeStack(std::map<std::string, std::string> service_tags)
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
    const std::string override_path = absl::StrCat(testing::MakeTempDir(), "/override.yaml");
    std::string text = "services:\n";
    for (const auto& [service, tag] : tags_) {
      absl::StrAppend(&text, "  ", service, ":\n    image: stache-", service, ":", tag,
                      "\n    labels:\n      stache-test: ", project_, "\n");
    }
    std::ofstream(override_path) << text;
    std::vector<std::string> argv = {
        "/usr/bin/env", absl::StrCat("STACHE_GATEWAY_PORT=", port_), "docker-compose",
        "-p", project_, "-f", kRepo + "/deploy/compose.yaml", "-f", override_path};
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
    httplib::MultipartFormDataItems items = {
        {"image", photo, "photo.jpg", "image/jpeg"}};
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

std::string HealthOf(const std::string& container) {
  return Trim(RunCommand({"docker", "inspect", "-f", "{{.State.Health.Status}}", container})
                  .output);
}

// Start new, wait healthy, SIGTERM old with its grace period: what ECS does
// with minimumHealthyPercent 100. The new container gets the old one's
// configuration (STACHE_* environment) and secrets volume (certificates).
void ReplaceContainer(ComposeStack& stack, const std::string& service,
                      const std::string& old_container, int index) {
  const std::string name = absl::StrCat(stack.project(), "-", service, "-new", index);
  std::vector<std::string> argv = {"docker", "run", "-d", "--name", name,
                                   "--network", stack.network(), "--network-alias", service,
                                   "--label", "stache-test=" + stack.project(),
                                   "--volumes-from", old_container};
  const auto env = RunCommand(
      {"docker", "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", old_container});
  for (absl::string_view variable : absl::StrSplit(env.output, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(variable, "STACHE_")) {
      argv.push_back("-e");
      argv.emplace_back(variable);
    }
  }
  argv.push_back(absl::StrCat("stache-", service, ":", kNewTag));
  auto run = RunCommand(argv);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(WaitFor([&] { return HealthOf(name) == "healthy"; }, absl::Seconds(120)))
      << name << " never became healthy";
  auto stop = RunCommand({"docker", "stop", "-t", "25", old_container}, absl::Seconds(60));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  auto exit_code = RunCommand({"docker", "inspect", "-f", "{{.State.ExitCode}}", old_container});
  EXPECT_EQ(Trim(exit_code.output), "0") << "old " << service << " did not exit cleanly";
  RunCommand({"docker", "rm", old_container});
}

class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DockerAvailable()) GTEST_SKIP() << "no Docker daemon reachable: `docker info` failed";
    photo_ = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  }
  std::string photo_;
};

TEST_F(ComposeTest, UpServesUploadsThroughTwoDetectorReplicas) {
  ComposeStack stack({{"detector", kOldTag}, {"overlay", kOldTag},
                      {"storage", kOldTag}, {"gateway", kOldTag}, {"init", kOldTag}});
  ASSERT_TRUE(stack.Up());
  EXPECT_EQ(stack.ContainersOf("detector").size(), 2u);
  std::string body;
  ASSERT_EQ(stack.Upload(photo_, &body), 201) << body;
  auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["faces"].size(), 1u) << body;
  std::string result;
  EXPECT_EQ(stack.Get(absl::StrCat("/v1/images/", json["id"].get<std::string>(), "/result"),
                      &result),
            200);
  EXPECT_GT(result.size(), 1000u);
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
  EXPECT_EQ(instances["storage"], 1) << info;
}

// The hops inside the stack are mutual TLS: a container on the stack's
// network without a certificate from the stack's CA reaches no backend, and
// one with a service's certificate does.
TEST_F(ComposeTest, BackendsRefuseCallersWithoutTheStacksCertificate) {
  ComposeStack stack({{"detector", kOldTag}, {"overlay", kOldTag},
                      {"storage", kOldTag}, {"gateway", kOldTag}, {"init", kOldTag}});
  ASSERT_TRUE(stack.Up());
  const std::vector<std::string> detectors = stack.ContainersOf("detector");
  ASSERT_FALSE(detectors.empty());
  for (const std::string target : {"storage:50053", "detector:50051", "overlay:50052"}) {
    const std::vector<std::string> probe = {
        "docker", "run", "--rm", "--network", stack.network(), "--label",
        "stache-test=" + stack.project(), "--entrypoint", "stache-healthcheck"};
    std::vector<std::string> plaintext = probe;
    plaintext.insert(plaintext.end(), {absl::StrCat("stache-storage:", kOldTag),
                                       "--grpc=" + target});
    EXPECT_NE(RunCommand(plaintext, absl::Seconds(60)).exit_code, 0)
        << target << " answered a plaintext client";
    std::vector<std::string> with_certificate = probe;
    with_certificate.insert(
        with_certificate.end(),
        {"--volumes-from", detectors[0], "-e", "STACHE_TLS_CA=/run/stache/ca.crt", "-e",
         "STACHE_TLS_CERT=/run/stache/tls.crt", "-e", "STACHE_TLS_KEY=/run/stache/tls.key",
         absl::StrCat("stache-storage:", kOldTag), "--grpc=" + target});
    const auto result = RunCommand(with_certificate, absl::Seconds(60));
    EXPECT_EQ(result.exit_code, 0) << target << ": " << result.output;
  }
}

TEST_F(ComposeTest, RollingReplacementUnderLoadDropsNoUpload) {
  ComposeStack stack({{"detector", kOldTag}, {"overlay", kOldTag},
                      {"storage", kOldTag}, {"gateway", kOldTag}, {"init", kOldTag}});
  ASSERT_TRUE(stack.Up());

  std::atomic<bool> replacing_done{false};
  std::atomic<int> succeeded{0};
  absl::Mutex mutex;
  std::vector<std::string> failures;
  const absl::Time load_deadline = absl::Now() + absl::Minutes(6);  // hard bound
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      while (!replacing_done && absl::Now() < load_deadline) {
        std::string body;
        const int status = stack.Upload(photo_, &body);
        if (status == 201) {
          ++succeeded;
        } else {
          absl::MutexLock lock(&mutex);
          failures.push_back(absl::StrCat(status, " ", body.substr(0, 200)));
        }
      }
    });
  }
  int index = 0;
  for (const std::string service : {"detector", "overlay"}) {
    for (const std::string& old_container : stack.ContainersOf(service)) {
      ReplaceContainer(stack, service, old_container, index++);
    }
  }
  replacing_done = true;
  for (std::thread& client : clients) client.join();

  EXPECT_GT(succeeded.load(), 8);
  EXPECT_THAT(failures, ::testing::IsEmpty());
  std::string info;
  ASSERT_EQ(stack.Get("/v1/info", &info), 200);
  const nlohmann::json parsed = nlohmann::json::parse(info);
  int rolled = 0;
  for (const auto& backend : parsed["backends"]) {
    const std::string name = backend.value("service_name", backend.value("name", ""));
    if (name == "detector" || name == "overlay") {
      EXPECT_EQ(backend["version"], kNewVersion) << backend.dump();
      rolled += backend.value("instances", 0);
    }
  }
  // Two detectors and one overlay, all new: the check above saw them.
  EXPECT_EQ(rolled, 3) << info;
}

TEST_F(ComposeTest, NewGatewayWorksWithOldServicesAndTheReverse) {
  for (const auto& [gateway_tag, services_tag] :
       std::vector<std::pair<std::string, std::string>>{{kNewTag, kOldTag},
                                                        {kOldTag, kNewTag}}) {
    ComposeStack stack({{"detector", services_tag}, {"overlay", services_tag},
                        {"storage", kOldTag}, {"gateway", gateway_tag}, {"init", kOldTag}});
    ASSERT_TRUE(stack.Up()) << "gateway " << gateway_tag << ", services " << services_tag;
    std::string body;
    EXPECT_EQ(stack.Upload(photo_, &body), 201) << body;
  }
}

}  // namespace
}  // namespace stache
