// The suite as containers, for real: Compose brings it up from the images
// deploy/build-images.sh built (the docker_images ctest fixture), uploads go
// through the published load-balancer port to two gateways, a rolling
// upgrade from the previous release to HEAD under load (every container of
// every service replaced) drops nothing, a replica added by scaling out
// takes calls within seconds, and the previous release's gateway works with
// HEAD's backends and the reverse. The previous release's images are that
// release's own binaries, built from the commit that froze it by
// build_release_images.sh. Skips with a clear message where no Docker
// daemon is reachable.
//
// What these cannot show: AWS itself (an ALB's health checks and draining,
// ECS's deployment circuit breaker, S3's stricter request rules; see
// tests/deploy for what is checked offline); releases older than the
// previous one with HEAD (tests/contracts replays every release's recorded
// requests against HEAD's binaries, without Docker); a downgrade (HEAD back
// to the release); and calls between the two versions other than those an
// upload, a read-back and /v1/info make (listing, deletion, styles).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
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
// The tag of HEAD's images, which tests/CMakeLists.txt's docker_images
// fixture builds; the previous release's are "release-X.Y.Z".
constexpr char kHeadTag[] = "test-head";
// The replicas compose.yaml starts of each service the tests roll.
const std::map<std::string, int> kReplicas = {
    {"gateway", 2}, {"detector", 2}, {"overlay", 1}, {"storage", 2}};

// Every image of a stack: the stache services at the tags given, the
// stack's own infrastructure (init, MinIO, the load balancer) HEAD's.
std::map<std::string, std::string> StackImages(const std::string& gateway,
                                               const std::string& detector_overlay,
                                               const std::string& storage = kHeadTag) {
  return {{"gateway", gateway},
          {"detector", detector_overlay},
          {"overlay", detector_overlay},
          {"storage", storage},
          {"init", kHeadTag},
          {"minio", kHeadTag},
          {"lb", kHeadTag}};
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

// Start new (`service` at image tag `tag`), wait healthy, SIGTERM old with
// its grace period: what ECS does with minimumHealthyPercent 100. The new
// container gets the old one's
// configuration (STACHE_* and AWS_* environment), secrets volume
// (certificates, keys) and hardening (read-only root, no capabilities, the
// memory limit).
void ReplaceContainer(ComposeStack& stack, const std::string& service,
                      const std::string& tag, const std::string& old_container,
                      int index) {
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
  argv.push_back(absl::StrCat("stache-", service, ":", tag));
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
                  absl::StrCat("stache-init:", kHeadTag), "-fsS",
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

// The release the mixed-version test runs against HEAD, as
// tests/docker/build_release_images.sh chose and built it.
struct PreviousRelease {
  std::string version;   // "0.2.0": proto/releases/0.2.0.json
  std::string revision;  // the commit that froze it, as image labels give it
};

absl::StatusOr<PreviousRelease> FindPreviousRelease() {
  const auto which =
      RunCommand({kRepo + "/tests/docker/build_release_images.sh", "--which"});
  std::vector<std::string> words =
      absl::StrSplit(Trim(which.output), ' ', absl::SkipEmpty());
  if (which.exit_code != 0 || words.size() != 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("build_release_images.sh --which: ", which.output));
  }
  PreviousRelease release{words[0], words[1]};
  // Independently of the script: that commit added the release's file.
  const std::string file = absl::StrCat(":proto/releases/", release.version, ".json");
  if (RunCommand({"git", "-C", kRepo, "cat-file", "-e", release.revision + file})
              .exit_code != 0 ||
      RunCommand({"git", "-C", kRepo, "cat-file", "-e", release.revision + "^" + file})
              .exit_code == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        release.revision, " is not the commit that froze release ", release.version));
  }
  return release;
}

// The OCI labels deploy/build-images.sh puts on an image; empty when the
// image is missing.
struct ImageLabels {
  std::string version;
  std::string revision;
};

ImageLabels LabelsOf(const std::string& image) {
  const std::vector<std::string> lines = absl::StrSplit(
      RunCommand({"docker", "image", "inspect", "-f",
                  "{{index .Config.Labels \"org.opencontainers.image.version\"}}\n"
                  "{{index .Config.Labels \"org.opencontainers.image.revision\"}}",
                  image})
          .output,
      '\n');
  if (lines.size() < 2 || absl::StrContains(lines[0], "No such")) return {};
  return {Trim(lines[0]), Trim(lines[1])};
}

// The previous release's images and HEAD's, each checked to be what it
// claims: the release's labelled with the commit that froze it, HEAD's with
// one later commit, every stache service alike.
struct TwoVersions {
  std::string release_tag;  // "release-0.2.0"
  ImageLabels release, head;
};

absl::StatusOr<TwoVersions> FindTwoVersions() {
  absl::StatusOr<PreviousRelease> release = FindPreviousRelease();
  if (!release.ok()) return release.status();
  TwoVersions versions{absl::StrCat("release-", release->version), {}, {}};
  versions.release = LabelsOf(absl::StrCat("stache-gateway:", versions.release_tag));
  versions.head = LabelsOf(absl::StrCat("stache-gateway:", kHeadTag));
  if (versions.release.revision != release->revision ||
      versions.release.version != release->version) {
    return absl::FailedPreconditionError(
        absl::StrCat("stache-gateway:", versions.release_tag,
                     " is missing or not release ", release->version, " built from ",
                     release->revision, ": run tests/docker/build_release_images.sh"));
  }
  for (const std::string service : {"detector", "overlay", "storage"}) {
    for (const auto& [tag, expected] :
         {std::pair{versions.release_tag, versions.release},
          std::pair{std::string(kHeadTag), versions.head}}) {
      const ImageLabels labels = LabelsOf(absl::StrCat("stache-", service, ":", tag));
      if (labels.revision != expected.revision || labels.version != expected.version) {
        return absl::FailedPreconditionError(
            absl::StrCat("stache-", service, ":", tag, " is ", labels.version, " ",
                         labels.revision, ", not ", expected.version, " ",
                         expected.revision, " like the gateway's image"));
      }
    }
  }
  // Really two versions: the release is an ancestor of HEAD's images.
  if (versions.head.revision.empty() || versions.head.revision == release->revision ||
      RunCommand({"git", "-C", kRepo, "merge-base", "--is-ancestor", release->revision,
                  versions.head.revision})
              .exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("HEAD's images (revision '", versions.head.revision,
                     "') are not a later commit than ", release->revision));
  }
  return versions;
}

// Mean absolute difference per channel value (0..255) between a photo and
// its result, in the box the mustache is drawn on (centred between the nose
// base and the top of the lip, as the overlay anchors it) and in a box the
// same size in the photo's corner, away from the face.
constexpr double kMustacheMinimumDifference = 20;
constexpr double kReencodingMaximumDifference = 4;
struct MustacheEvidence {
  bool ok = false;
  std::string error;
  double lip_difference = 0;
  double background_difference = 0;
};

MustacheEvidence CompareMustacheRegion(const std::string& photo,
                                       const std::string& result,
                                       const nlohmann::json& face) {
  MustacheEvidence evidence;
  auto decode = [](const std::string& bytes) {
    return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U,
                                const_cast<char*>(bytes.data())),
                        cv::IMREAD_COLOR);
  };
  const cv::Mat before = decode(photo), after = decode(result);
  if (before.empty() || after.empty() || before.size() != after.size()) {
    evidence.error = "the photo and its result do not decode to the same size";
    return evidence;
  }
  auto point = [&](const char* name) {
    const nlohmann::json& p = face["landmarks"][name];
    return cv::Point2d(p.value("x_px", -1.0), p.value("y_px", -1.0));
  };
  const cv::Point2d nose = point("nose_base"), lip = point("upper_lip_top");
  const double eyes = cv::norm(point("right_eye_center") - point("left_eye_center"));
  const cv::Point2d anchor = (nose + lip) * 0.5;
  const double half_width = eyes / 4,
               half_height = std::max(2.0, cv::norm(lip - nose) / 4);
  const cv::Rect image(0, 0, before.cols, before.rows);
  const cv::Rect on_lip = cv::Rect(cv::Point(static_cast<int>(anchor.x - half_width),
                                             static_cast<int>(anchor.y - half_height)),
                                   cv::Point(static_cast<int>(anchor.x + half_width),
                                             static_cast<int>(anchor.y + half_height))) &
                          image;
  const nlohmann::json& box = face["bounding_box"];
  const cv::Rect face_box(box.value("x_px", 0), box.value("y_px", 0),
                          box.value("width_px", 0), box.value("height_px", 0));
  const cv::Rect corner(0, 0, on_lip.width, on_lip.height);
  if (on_lip.area() < 16 || (corner & face_box).area() > 0) {
    evidence.error = absl::StrCat("no usable regions: lip ", on_lip.width, "x",
                                  on_lip.height, ", face box ", box.dump());
    return evidence;
  }
  auto difference = [&](const cv::Rect& region) {
    cv::Mat absolute;
    cv::absdiff(before(region), after(region), absolute);
    const cv::Scalar mean = cv::mean(absolute);
    return (mean[0] + mean[1] + mean[2]) / 3;
  };
  evidence.ok = true;
  evidence.lip_difference = difference(on_lip);
  evidence.background_difference = difference(corner);
  return evidence;
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
  ComposeStack stack(StackImages(kHeadTag, kHeadTag));
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
  ComposeStack stack(StackImages(kHeadTag, kHeadTag));
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
                     {absl::StrCat("stache-storage:", kHeadTag), "--grpc=" + target});
    EXPECT_NE(RunCommand(plaintext, absl::Seconds(60)).exit_code, 0)
        << target << " answered a plaintext client";
    std::vector<std::string> with_certificate = probe;
    with_certificate.insert(
        with_certificate.end(),
        {"--volumes-from", detectors[0], "-e", "STACHE_TLS_CA=/run/stache/ca.crt", "-e",
         "STACHE_TLS_CERT=/run/stache/tls.crt", "-e",
         "STACHE_TLS_KEY=/run/stache/tls.key", absl::StrCat("stache-storage:", kHeadTag),
         "--grpc=" + target});
    const auto result = RunCommand(with_certificate, absl::Seconds(60));
    EXPECT_EQ(result.exit_code, 0) << target << ": " << result.output;
  }
}

// A rolling upgrade from the previous release to HEAD: every container of
// every service replaced by HEAD's, one at a time, so that old and new
// replicas of a service serve side by side, while eight clients upload
// through the load balancer for at least a minute.
TEST_F(ComposeTest, RollingUpgradeFromThePreviousReleaseUnderLoadDropsNoUpload) {
  const absl::StatusOr<TwoVersions> versions = FindTwoVersions();
  ASSERT_TRUE(versions.ok()) << versions.status();
  const std::string& release_tag = versions->release_tag;
  ComposeStack stack(StackImages(release_tag, release_tag, release_tag));
  ASSERT_TRUE(stack.Up());

  std::atomic<bool> replacing_done{false};
  const absl::Time minimum_end = absl::Now() + absl::Seconds(60);
  UploadLoad load(stack, photo_, 8,
                  [&] { return replacing_done && absl::Now() >= minimum_end; });
  int index = 0;
  for (const std::string service : {"storage", "detector", "overlay", "gateway"}) {
    for (const std::string& old_container : stack.ContainersOf(service)) {
      ReplaceContainer(stack, service, kHeadTag, old_container, index++);
    }
  }
  replacing_done = true;
  load.Join();

  RecordProperty("uploads_succeeded", load.succeeded());
  EXPECT_GE(load.succeeded(), 300);
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  // Asked several times, so the load balancer reaches both gateways.
  for (int i = 0; i < 6; ++i) {
    std::string info;
    ASSERT_EQ(stack.Get("/v1/info", &info), 200);
    const nlohmann::json parsed = nlohmann::json::parse(info);
    EXPECT_EQ(parsed["gateway"].value("build_id", ""), versions->head.revision) << info;
    std::map<std::string, int> new_instances;
    for (const auto& backend : parsed["backends"]) {
      const std::string name = backend.value("name", "");
      EXPECT_EQ(backend.value("build_id", ""), versions->head.revision) << backend.dump();
      if (backend.value("build_id", "") == versions->head.revision) {
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
  ComposeStack stack(StackImages(kHeadTag, kHeadTag));
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

// The previous release's own binaries against HEAD's, both ways round: the
// release's gateway in front of HEAD's detector, overlay and storage, then
// HEAD's gateway in front of the release's. The release images are built by
// tests/docker/build_release_images.sh from the tree of the commit that
// froze the release, with that commit's Dockerfile: nothing of HEAD in them.
// The stack's infrastructure (init, MinIO, the load balancer) and its
// configuration are HEAD's, as in a rolling upgrade.
TEST_F(ComposeTest, PreviousReleaseAndHeadServeUploadsTogetherBothWays) {
  const absl::StatusOr<TwoVersions> versions = FindTwoVersions();
  ASSERT_TRUE(versions.ok()) << versions.status();
  const std::string& release_tag = versions->release_tag;

  struct Case {
    std::string gateway_tag, services_tag;
    ImageLabels gateway, services;
  };
  for (const Case& mix :
       {Case{release_tag, kHeadTag, versions->release, versions->head},
        Case{kHeadTag, release_tag, versions->head, versions->release}}) {
    SCOPED_TRACE(absl::StrCat("gateway ", mix.gateway_tag, " (", mix.gateway.revision,
                              "), detector, overlay and storage ", mix.services_tag, " (",
                              mix.services.revision, ")"));
    ComposeStack stack(StackImages(mix.gateway_tag, mix.services_tag, mix.services_tag));
    ASSERT_TRUE(stack.Up());

    // The versions actually running, as the gateway's status board reports
    // them; asked several times, so the load balancer reaches both gateways.
    for (int i = 0; i < 4; ++i) {
      std::string info;
      ASSERT_EQ(stack.Get("/v1/info", &info), 200);
      const nlohmann::json parsed = nlohmann::json::parse(info);
      EXPECT_EQ(parsed["gateway"].value("build_id", ""), mix.gateway.revision) << info;
      EXPECT_EQ(parsed["gateway"].value("version", ""), mix.gateway.version) << info;
      std::map<std::string, int> serving;
      for (const auto& backend : parsed["backends"]) {
        EXPECT_EQ(backend.value("build_id", ""), mix.services.revision) << backend.dump();
        EXPECT_EQ(backend.value("version", ""), mix.services.version) << backend.dump();
        EXPECT_EQ(backend.value("health", ""), "SERVING") << backend.dump();
        serving[backend.value("name", "")] += backend.value("instances", 0);
      }
      for (const std::string service : {"detector", "overlay", "storage"})
        EXPECT_EQ(serving[service], kReplicas.at(service)) << service << ": " << info;
    }

    std::string body;
    ASSERT_EQ(stack.Upload(photo_, &body), 201) << body;
    const nlohmann::json record = nlohmann::json::parse(body);
    ASSERT_EQ(record["faces"].size(), 1u) << body;
    const nlohmann::json& face = record["faces"][0];
    EXPECT_FALSE(face.value("style", "").empty()) << body;
    EXPECT_EQ(record["original"]["width_px"], 512);
    EXPECT_EQ(record["original"]["height_px"], 600);
    const std::string id = record["id"];

    // Stored, and read back through whichever storage replica answers.
    std::string stored;
    ASSERT_EQ(stack.Get(absl::StrCat("/v1/images/", id), &stored), 200);
    nlohmann::json expected = record;
    expected.erase("delete_token");  // told once, in the upload's answer
    EXPECT_EQ(nlohmann::json::parse(stored), expected);
    std::string original, result;
    ASSERT_EQ(stack.Get(absl::StrCat("/v1/images/", id, "/original"), &original), 200);
    EXPECT_EQ(original, photo_);
    ASSERT_EQ(stack.Get(absl::StrCat("/v1/images/", id, "/result"), &result), 200);
    EXPECT_EQ(static_cast<int64_t>(result.size()),
              record["result"]["size_bytes"].get<int64_t>());

    // The mustache is drawn where the detector put the lip: the result
    // differs from the photo there far more than JPEG re-encoding does
    // elsewhere.
    const MustacheEvidence evidence = CompareMustacheRegion(photo_, result, face);
    ASSERT_TRUE(evidence.ok) << evidence.error;
    RecordProperty(absl::StrCat("lip_difference_gateway_", mix.gateway_tag),
                   absl::StrCat(evidence.lip_difference));
    RecordProperty(absl::StrCat("background_difference_gateway_", mix.gateway_tag),
                   absl::StrCat(evidence.background_difference));
    EXPECT_GT(evidence.lip_difference, kMustacheMinimumDifference)
        << "no mustache on the lip; background difference "
        << evidence.background_difference;
    EXPECT_LT(evidence.background_difference, kReencodingMaximumDifference);
  }
}

}  // namespace
}  // namespace stache
