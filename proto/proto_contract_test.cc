// The public API is a contract: these tests run buf for real to keep the
// protos lint-clean and backward compatible with every released snapshot in
// proto/releases/, and prove that the breaking check can fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

namespace fs = std::filesystem;
using ::stache::testing::MakeTempDir;
using ::stache::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::IsEmpty;

// Release snapshots sorted by major version: v1.json, v2.json, ...
std::vector<fs::path> Releases() {
  std::vector<fs::path> releases;
  for (const auto& entry : fs::directory_iterator(fs::path(STACHE_PROTO_DIR) / "releases")) {
    if (std::regex_match(entry.path().filename().string(), std::regex(R"(v\d+\.json)"))) {
      releases.push_back(entry.path());
    }
  }
  std::sort(releases.begin(), releases.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.stem().string().substr(1)) < std::stoi(b.stem().string().substr(1));
  });
  return releases;
}

testing::CommandResult Buf(std::vector<std::string> args) {
  args.insert(args.begin(), STACHE_BUF);
  return RunCommand(args, absl::Seconds(120));
}

TEST(ProtoContractTest, LintsClean) {
  auto result = Buf({"lint", STACHE_PROTO_DIR});
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(ProtoContractTest, HasAtLeastTheV1Release) {
  ASSERT_THAT(Releases(), Not(IsEmpty()));
  EXPECT_EQ(Releases().front().filename(), "v1.json");
}

TEST(ProtoContractTest, CurrentProtosDoNotBreakTheNewestRelease) {
  auto result = Buf({"breaking", STACHE_PROTO_DIR, "--against",
                     Releases().back().string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(ProtoContractTest, EachReleaseDoesNotBreakItsPredecessor) {
  const std::vector<fs::path> releases = Releases();
  for (size_t i = 1; i < releases.size(); ++i) {
    auto result = Buf({"breaking", releases[i].string(), "--against",
                       releases[i - 1].string()});
    EXPECT_EQ(result.exit_code, 0) << releases[i] << ": " << result.output;
  }
}

// Copies the module to a temp dir, applies `edit` to one file, and returns
// what `buf breaking` against the newest release says.
testing::CommandResult BreakingAfterEdit(const std::string& file,
                                         const std::string& from,
                                         const std::string& to) {
  const fs::path copy = fs::path(MakeTempDir()) / "proto";
  fs::copy(STACHE_PROTO_DIR, copy, fs::copy_options::recursive);
  const fs::path path = copy / file;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string original = text.str();
  const std::string edited = absl::StrReplaceAll(original, {{from, to}});
  EXPECT_NE(edited, original) << "the edit did not apply to " << file;
  std::ofstream(path, std::ios::trunc) << edited;
  return Buf({"breaking", copy.string(), "--against", Releases().back().string()});
}

TEST(ProtoContractTest, RenumberingAFieldIsReportedAsBreaking) {
  auto result = BreakingAfterEdit("stache/detector/v1/detector.proto",
                                  "uint32 max_faces = 1;", "uint32 max_faces = 9;");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("max_faces"));
}

TEST(ProtoContractTest, RetypingAFieldIsReportedAsBreaking) {
  auto result = BreakingAfterEdit("stache/storage/v1/storage.proto",
                                  "uint64 size_bytes = 4;", "string size_bytes = 4;");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("size_bytes"));
}

TEST(ProtoContractTest, AddingAFieldIsNotBreaking) {
  auto result = BreakingAfterEdit(
      "stache/detector/v1/detector.proto", "float min_confidence = 3;",
      "float min_confidence = 3;\n  bool include_debug_info = 4;");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
}  // namespace stache
