// scripts/load_test.sh in a short smoke run against the four real binaries:
// it completes within its bounds, prints requests, throughput and latency
// percentiles for the gateway (wrk) and the detector (ghz) with no errors,
// and exits non-zero when requests fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::stache::testing::ChildProcess;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr char kScript[] = STACHE_SOURCE_DIR "/scripts/load_test.sh";

struct ScriptRun {
  int exit_code = -1;
  std::string output;
};

// Runs the script with `flags`; on a timeout it gets SIGTERM, which stops
// the services it started.
ScriptRun RunScript(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {
      kScript, absl::StrCat("--build_dir=", STACHE_BUILD_DIR),
      absl::StrCat("--wrk=", STACHE_WRK), absl::StrCat("--ghz=", STACHE_GHZ)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ChildProcess script(argv);
  std::optional<int> code = script.Wait(absl::Seconds(50));
  if (!code.has_value()) {
    script.Signal(SIGTERM);
    script.Wait(absl::Seconds(15));
  }
  return {.exit_code = code.value_or(-1), .output = script.Output()};
}

// The figures of one report section of the script's output.
struct Section {
  int requests = -1;
  double seconds = -1;
  double throughput = -1;
  double p50 = -1, p95 = -1, p99 = -1;
  int errors = -1;
};

std::optional<Section> FindSection(const std::string& output, const std::string& title) {
  const std::regex pattern(
      title +
      R"([^\n]*\n  requests +(\d+) in ([0-9.]+) s\n  throughput +([0-9.]+) req/s\n)"
      R"(  latency +p50 ([0-9.]+) ms +p95 ([0-9.]+) ms +p99 ([0-9.]+) ms\n  errors +(\d+) )");
  std::smatch match;
  if (!std::regex_search(output, match, pattern)) return std::nullopt;
  return Section{.requests = std::stoi(match[1]),
                 .seconds = std::stod(match[2]),
                 .throughput = std::stod(match[3]),
                 .p50 = std::stod(match[4]),
                 .p95 = std::stod(match[5]),
                 .p99 = std::stod(match[6]),
                 .errors = std::stoi(match[7])};
}

// The wrk section, then the ghz one; fails the test for each one missing.
std::vector<Section> BothSections(const std::string& output) {
  std::vector<Section> sections;
  for (const char* title :
       {"gateway POST /v1/images \\(wrk\\)", "detector Detect \\(ghz\\)"}) {
    std::optional<Section> section = FindSection(output, title);
    EXPECT_TRUE(section.has_value()) << "no section " << title << " in:\n" << output;
    if (section.has_value()) sections.push_back(*section);
  }
  return sections;
}

TEST(LoadScriptTest, SmokeRunReportsBothLoadsWithoutErrors) {
  const ScriptRun run =
      RunScript({"--duration=3", "--requests=50", "--concurrency=2",
                 "--photo=" + testing::TestDataPath("grace_hopper.jpg")});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Section> sections = BothSections(run.output);
  ASSERT_EQ(sections.size(), 2u);
  for (const Section& section : sections) {
    EXPECT_GT(section.requests, 0);
    EXPECT_LE(section.requests, 50);
    EXPECT_GT(section.throughput, 0);
    EXPECT_GT(section.p50, 0);
    EXPECT_LE(section.p50, section.p95);
    EXPECT_LE(section.p95, section.p99);
    EXPECT_EQ(section.errors, 0) << run.output;
  }
  EXPECT_THAT(run.output, ContainsRegex("cpu +[0-9.]+ ms per request \\(gateway [0-9.]+, "
                                        "detector [0-9.]+, overlay [0-9.]+, storage"));
  EXPECT_THAT(run.output, HasSubstr("load_test: ok, no errors"));
}

// The count ends a run long before its duration, with exactly that many
// answers: wrk has no count limit of its own, and ghz drops -n when given a
// time limit.
TEST(LoadScriptTest, StopsAfterExactlyTheRequestCount) {
  const ScriptRun run =
      RunScript({"--duration=40", "--requests=7", "--concurrency=3",
                 "--photo=" + testing::TestDataPath("grace_hopper.jpg")});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Section> sections = BothSections(run.output);
  ASSERT_EQ(sections.size(), 2u);
  for (const Section& section : sections) {
    EXPECT_EQ(section.requests, 7) << run.output;
    EXPECT_LT(section.seconds, 20) << run.output;
  }
}

// A file that is not an image: the gateway answers 4xx and the detector
// INVALID_ARGUMENT, and the script must count them and fail.
TEST(LoadScriptTest, FailedRequestsAreCountedAndFailTheRun) {
  const std::string not_a_photo = testing::MakeTempDir() + "/notes.txt";
  std::ofstream(not_a_photo) << "not a photo\n";
  const ScriptRun run = RunScript(
      {"--duration=2", "--requests=5", "--concurrency=1", "--photo=" + not_a_photo});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const std::vector<Section> sections = BothSections(run.output);
  ASSERT_EQ(sections.size(), 2u);
  for (const Section& section : sections) {
    EXPECT_GT(section.errors, 0);
    EXPECT_EQ(section.errors, section.requests);
  }
  EXPECT_THAT(run.output, HasSubstr("non-2xx 5"));
  EXPECT_THAT(run.output, HasSubstr("InvalidArgument:5"));
}

TEST(LoadScriptTest, RefusesTargetsOffLoopbackAndBadFlags) {
  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{{"--gateway=10.0.0.1:8000"},
                                             {"--detector=example.com:50051"},
                                             {"--requests=0"},
                                             {"--duration=soon"},
                                             {"--no_such_flag=1"}}) {
    const ScriptRun run = RunScript(flags);
    EXPECT_EQ(run.exit_code, 2) << flags[0] << "\n" << run.output;
  }
}

TEST(LoadScriptTest, HelpDocumentsEveryFlag) {
  const ScriptRun run = RunScript({"--help"});
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag :
       {"--build_dir", "--gateway", "--detector", "--photo", "--duration", "--requests",
        "--concurrency", "--timeout", "--wrk", "--ghz", "--help"}) {
    EXPECT_THAT(run.output, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace stache
