// The public API is a contract. These tests run buf for real and hold:
//  - the releases in proto/releases/ immutable: each frozen image's sha256 is
//    recorded in SHA256SUMS, each release is named for the product version
//    that shipped it and matches the protos of the commit that froze it;
//  - the chain: every release is compatible with the next, the newest with
//    the working tree, all judged by OUR buf.yaml (not buf's defaults);
//  - the checks themselves: each breaking edit is reported under the buf rule
//    that names it (read from `--error-format json`), so a broken build or a
//    weakened buf.yaml cannot pass for a detected break.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache {
namespace {

namespace fs = std::filesystem;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::MakeTempDir;
using ::stache::testing::RunCommand;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

const fs::path kProtoDir = STACHE_PROTO_DIR;
const fs::path kOurConfig = kProtoDir / "buf.yaml";

// ---------------------------------------------------------------- releases

struct Release {
  std::string version;  // "0.1.0"
  fs::path image;       // proto/releases/0.1.0.json
  std::tuple<int, int, int> Key() const {
    std::vector<std::string> parts = absl::StrSplit(version, '.');
    return {std::stoi(parts[0]), std::stoi(parts[1]), std::stoi(parts[2])};
  }
  std::string tag() const { return "v" + version; }
};

const std::regex kReleaseName(R"((\d+)\.(\d+)\.(\d+)\.json)");

// The releases in `dir`, oldest first (by version, not by name).
std::vector<Release> Releases(const fs::path& dir = kProtoDir / "releases") {
  std::vector<Release> releases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, kReleaseName)) {
      releases.push_back({std::string(absl::StripSuffix(name, ".json")), entry.path()});
    }
  }
  std::sort(releases.begin(), releases.end(),
            [](const Release& a, const Release& b) { return a.Key() < b.Key(); });
  return releases;
}

std::string Sha256(const fs::path& file) {
  auto result = RunCommand({"sha256sum", file.string()});
  if (result.exit_code != 0) return "";
  return result.output.substr(0, result.output.find(' '));
}

// What to do instead of rewriting a release: said by every failure below.
std::string Remedy(const std::string& file) {
  const std::string version(absl::StripSuffix(file, ".json"));
  return absl::StrCat(
      "Releases are immutable: restore it (git checkout v", version,
      " -- proto/releases/", file,
      ") and make the change in proto/stache/ instead; it ships in the next release "
      "(proto/README.md, \"Cutting a release\"). A change that cannot be made compatibly "
      "is a new major version (a v2 package), never an edited release.");
}

// Checks that every release in `dir` is recorded in its SHA256SUMS with the
// digest it has, that every recorded release is still there, and that the
// directory holds nothing else.
absl::Status CheckReleaseDigests(const fs::path& dir) {
  std::ifstream sums_file(dir / "SHA256SUMS");
  if (!sums_file)
    return absl::NotFoundError(absl::StrCat(dir.string(), "/SHA256SUMS is missing"));
  std::map<std::string, std::string> recorded;  // file -> sha256
  for (std::string line; std::getline(sums_file, line);) {
    if (line.empty()) continue;
    std::vector<std::string> parts = absl::StrSplit(line, "  ");
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("SHA256SUMS: \"", line, "\" is not \"<sha256>  <file>\""));
    }
    if (!recorded.emplace(parts[1], parts[0]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("SHA256SUMS records ", parts[1], " twice. ", Remedy(parts[1])));
    }
  }
  std::vector<std::string> errors;
  for (const auto& [file, sha] : recorded) {
    if (!fs::exists(dir / file)) {
      errors.push_back(absl::StrCat(
          "release ", file, " is recorded in SHA256SUMS but gone. ", Remedy(file)));
    } else if (const std::string actual = Sha256(dir / file); actual != sha) {
      errors.push_back(absl::StrCat("release ", file, " has sha256 ", actual,
                                    " but SHA256SUMS records ", sha, ". ", Remedy(file)));
    }
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "SHA256SUMS") continue;
    if (!std::regex_match(name, kReleaseName)) {
      errors.push_back(absl::StrCat("proto/releases/", name,
                                    " is not named <major>.<minor>.<patch>.json for the "
                                    "product version that shipped it"));
    } else if (!recorded.contains(name)) {
      errors.push_back(
          absl::StrCat("release ", name, " is not recorded: append \"$(sha256sum ", name,
                       ")\" to proto/releases/SHA256SUMS in the commit that freezes it"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(errors, "\n"));
}

// ---------------------------------------------------------------- buf

testing::CommandResult Buf(std::vector<std::string> args) {
  args.insert(args.begin(), STACHE_BUF);
  return RunCommand(args, absl::Seconds(120));
}

// An image of the module in `module_dir` (a proto/ folder), built into a
// temp file.
absl::StatusOr<fs::path> BuildImage(const fs::path& module_dir) {
  const fs::path image = fs::path(MakeTempDir()) / "image.json";
  auto result =
      Buf({"build", module_dir.string(), "--exclude-source-info", "-o", image.string()});
  if (result.exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("buf build ", module_dir.string(), " failed: ", result.output));
  }
  return image;
}

struct Finding {
  std::string rule;  // buf's rule ID, e.g. "FIELD_SAME_NAME"
  std::string
      message;  // e.g. "Field \"1\" on message \"DetectOptions\" changed name ..."
};

void PrintTo(const Finding& finding, std::ostream* os) {
  *os << finding.rule << ": " << finding.message;
}

// What `buf breaking` says about `image` against the older `against` under
// `config`: its findings, or an error when buf did not run its rules at all
// (a failed build or a bad config prints no JSON findings and must not be
// read as a detected break).
absl::StatusOr<std::vector<Finding>> Breaking(const fs::path& image,
                                              const fs::path& against,
                                              const fs::path& config = kOurConfig) {
  auto result = Buf({"breaking", image.string(), "--against", against.string(),
                     "--config", config.string(), "--error-format", "json"});
  // buf exits 100 when it found breaking changes, 0 when none.
  if (result.exit_code != 0 && result.exit_code != 100) {
    return absl::InternalError(absl::StrCat("buf breaking did not run (exit ",
                                            result.exit_code, "): ", result.output));
  }
  std::vector<Finding> findings;
  for (absl::string_view line :
       absl::StrSplit(result.output, '\n', absl::SkipWhitespace())) {
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("type") || !json.contains("message")) {
      return absl::InternalError(
          absl::StrCat("buf printed a line that is not a finding: ", line));
    }
    findings.push_back(
        {json["type"].get<std::string>(), json["message"].get<std::string>()});
  }
  if ((result.exit_code == 100) == findings.empty()) {
    return absl::InternalError(absl::StrCat("buf exited ", result.exit_code, " with ",
                                            findings.size(),
                                            " findings: ", result.output));
  }
  return findings;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A copy of the module with `from` replaced by `to` in `file`.
fs::path EditedCopy(const std::string& file, const std::string& from,
                    const std::string& to) {
  const fs::path copy = fs::path(MakeTempDir()) / "proto";
  fs::copy(kProtoDir, copy, fs::copy_options::recursive);
  const std::string original = ReadFile(copy / file);
  const std::string edited = absl::StrReplaceAll(original, {{from, to}});
  EXPECT_NE(edited, original) << "the edit did not apply to " << file;
  std::ofstream(copy / file, std::ios::trunc) << edited;
  return copy;
}

// The findings for the working tree with one edit, against the newest
// release, under our buf.yaml. The edited protos must build: an edit that
// does not compile fails here instead of passing for a detected break.
std::vector<Finding> FindingsAfterEdit(const std::string& file, const std::string& from,
                                       const std::string& to) {
  absl::StatusOr<fs::path> image = BuildImage(EditedCopy(file, from, to));
  EXPECT_THAT(image, IsOk());
  if (!image.ok()) return {};
  absl::StatusOr<std::vector<Finding>> findings =
      Breaking(*image, Releases().back().image);
  EXPECT_THAT(findings, IsOk());
  return findings.ok() ? *findings : std::vector<Finding>{};
}

auto IsFinding(const std::string& rule, const std::string& text) {
  return AllOf(Field(&Finding::rule, rule), Field(&Finding::message, HasSubstr(text)));
}

// ---------------------------------------------------------------- tests

TEST(ProtoContractTest, LintsClean) {
  auto result = Buf({"lint", kProtoDir.string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(ProtoContractTest, ReleasesAreNamedForProductVersionsFrom010) {
  const std::vector<Release> releases = Releases();
  ASSERT_THAT(releases, Not(IsEmpty()));
  EXPECT_EQ(releases.front().version, "0.1.0");
  // The newest release is the version this tree builds, or an older one
  // when the protos have not changed since.
  std::vector<std::string> project = absl::StrSplit(STACHE_VERSION, '.');
  ASSERT_THAT(project, SizeIs(3));
  const std::tuple<int, int, int> project_key{
      std::stoi(project[0]), std::stoi(project[1]), std::stoi(project[2])};
  EXPECT_LE(releases.back().Key(), project_key)
      << "release " << releases.back().version << " is newer than the project version "
      << STACHE_VERSION << " (CMakeLists.txt)";
}

TEST(ProtoContractTest, EveryReleaseHasItsRecordedSha256) {
  EXPECT_THAT(CheckReleaseDigests(kProtoDir / "releases"), IsOk());
}

TEST(ProtoContractTest, ARewrittenReleaseFailsWithWhatToDoInstead) {
  const fs::path copy = fs::path(MakeTempDir()) / "releases";
  fs::copy(kProtoDir / "releases", copy);
  const fs::path first = copy / "0.1.0.json";
  const std::string original = ReadFile(first);
  // The rewrite the review found: rename a field and freeze again.
  const std::string rewritten =
      absl::StrReplaceAll(original, {{"\"maxFaces\"", "\"maxFace\""}});
  ASSERT_NE(rewritten, original);
  std::ofstream(first, std::ios::trunc) << rewritten;
  const absl::Status status = CheckReleaseDigests(copy);
  EXPECT_THAT(status.message(), HasSubstr("release 0.1.0.json has sha256"));
  EXPECT_THAT(status.message(), HasSubstr("Releases are immutable"));
  EXPECT_THAT(status.message(),
              HasSubstr("git checkout v0.1.0 -- proto/releases/0.1.0.json"));
}

TEST(ProtoContractTest, ADeletedOrUnrecordedReleaseFails) {
  const fs::path copy = fs::path(MakeTempDir()) / "releases";
  fs::copy(kProtoDir / "releases", copy);
  fs::rename(copy / "0.1.0.json", copy / "99.0.0.json");
  const absl::Status status = CheckReleaseDigests(copy);
  EXPECT_THAT(status.message(),
              HasSubstr("release 0.1.0.json is recorded in SHA256SUMS but gone"));
  EXPECT_THAT(status.message(), HasSubstr("release 99.0.0.json is not recorded"));
  // A release named for the API's major version, as v1.json was.
  fs::rename(copy / "99.0.0.json", copy / "v1.json");
  EXPECT_THAT(CheckReleaseDigests(copy).message(),
              HasSubstr("v1.json is not named <major>.<minor>.<patch>.json"));
}

// The frozen image is what the protos of the commit that froze it build to:
// a release and its SHA256SUMS line rewritten together still fail here. The
// commit is found from history (the one that added the file), not from the
// release's tag, so a clone without tags checks it too.
TEST(ProtoContractTest, EachReleaseIsWhatItsCommitBuilds) {
  const std::string repo = kProtoDir.parent_path().string();
  auto shallow = RunCommand({"git", "-C", repo, "rev-parse", "--is-shallow-repository"});
  if (shallow.exit_code != 0) GTEST_SKIP() << "not a git checkout: " << shallow.output;
  if (absl::StripAsciiWhitespace(shallow.output) == "true") {
    GTEST_SKIP() << "a shallow clone has not the history that froze the releases";
  }
  for (const Release& release : Releases()) {
    SCOPED_TRACE(release.version);
    auto added =
        RunCommand({"git", "-C", repo, "log", "--no-renames", "--diff-filter=A",
                    "--format=%H", "--", "proto/releases/" + release.version + ".json"});
    std::vector<std::string> commits =
        absl::StrSplit(absl::StripAsciiWhitespace(added.output), '\n', absl::SkipEmpty());
    if (commits.empty()) {
      // Not committed yet: the release being cut; the chain check covers it.
      continue;
    }
    const std::string& froze = commits.back();  // the first time it was added
    const fs::path dir = MakeTempDir();
    auto archive = RunCommand({"sh", "-c",
                               absl::StrCat("git -C '", repo, "' archive '", froze,
                                            "' proto | tar -x -C '", dir.string(), "'")});
    ASSERT_EQ(archive.exit_code, 0) << archive.output;
    absl::StatusOr<fs::path> built = BuildImage(dir / "proto");
    ASSERT_THAT(built, IsOk());
    const std::string differs =
        absl::StrCat("release ", release.version, " differs from what ", froze,
                     " froze. ", Remedy(release.version + ".json"));
    // Equal as contracts: neither breaks the other, in either direction.
    EXPECT_THAT(Breaking(release.image, *built), IsOkAndHolds(IsEmpty())) << differs;
    EXPECT_THAT(Breaking(*built, release.image), IsOkAndHolds(IsEmpty())) << differs;
  }
}

TEST(ProtoContractTest, EachReleaseIsCompatibleWithTheNextUnderOurConfig) {
  const std::vector<Release> releases = Releases();
  for (size_t i = 1; i < releases.size(); ++i) {
    EXPECT_THAT(Breaking(releases[i].image, releases[i - 1].image),
                IsOkAndHolds(IsEmpty()))
        << releases[i].version << " against " << releases[i - 1].version;
  }
}

TEST(ProtoContractTest, TheWorkingTreeIsCompatibleWithTheNewestRelease) {
  absl::StatusOr<fs::path> tree = BuildImage(kProtoDir);
  ASSERT_THAT(tree, IsOk());
  EXPECT_THAT(Breaking(*tree, Releases().back().image), IsOkAndHolds(IsEmpty()));
}

// The chain reads the config it is given: under WIRE a rename is fine, under
// our buf.yaml it is not. (Before, the chain ran with buf's defaults.)
TEST(ProtoContractTest, TheChainIsJudgedByOurBufYaml) {
  EXPECT_THAT(ReadFile(kOurConfig), HasSubstr("- FILE"));
  const fs::path copy = EditedCopy("stache/detector/v1/detector.proto",
                                   "uint32 max_faces = 1;", "uint32 face_limit = 1;");
  absl::StatusOr<fs::path> image = BuildImage(copy);
  ASSERT_THAT(image, IsOk());
  const fs::path wire = fs::path(MakeTempDir()) / "buf.yaml";
  std::ofstream(wire) << absl::StrReplaceAll(ReadFile(kOurConfig),
                                             {{"- FILE", "- WIRE"}});
  EXPECT_THAT(Breaking(*image, Releases().back().image, wire), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(Breaking(*image, Releases().back().image),
              IsOkAndHolds(Contains(IsFinding("FIELD_SAME_NAME", "max_faces"))));
}

TEST(ProtoContractTest, ADeletedFieldIsFieldNoDelete) {
  EXPECT_THAT(
      FindingsAfterEdit("stache/overlay/v1/overlay.proto", "uint32 quality = 5;", ""),
      ElementsAre(IsFinding("FIELD_NO_DELETE", "field \"5\" with name \"quality\"")));
}

// The rule proto/README.md used to document: under FILE, reserving the
// number does not make a deletion compatible. Deprecate instead.
TEST(ProtoContractTest, ADeletedFieldIsBreakingEvenWhenReserved) {
  EXPECT_THAT(
      FindingsAfterEdit("stache/overlay/v1/overlay.proto", "uint32 quality = 5;",
                        "reserved 5;\n  reserved \"quality\";"),
      ElementsAre(IsFinding("FIELD_NO_DELETE", "field \"5\" with name \"quality\"")));
}

TEST(ProtoContractTest, ARenumberedFieldIsFieldNoDelete) {
  EXPECT_THAT(
      FindingsAfterEdit("stache/detector/v1/detector.proto", "uint32 max_faces = 1;",
                        "uint32 max_faces = 9;"),
      ElementsAre(IsFinding("FIELD_NO_DELETE", "field \"1\" with name \"max_faces\"")));
}

TEST(ProtoContractTest, AChangedTypeIsFieldSameType) {
  EXPECT_THAT(
      FindingsAfterEdit("stache/storage/v1/storage.proto", "uint64 size_bytes = 4;",
                        "string size_bytes = 4;"),
      ElementsAre(IsFinding("FIELD_SAME_TYPE",
                            "\"size_bytes\" on message \"ObjectInfo\" changed type")));
}

TEST(ProtoContractTest, ARenamedFieldIsFieldSameName) {
  // The JSON name changes with it: the REST and JSON clients break too.
  EXPECT_THAT(
      FindingsAfterEdit("stache/detector/v1/detector.proto", "uint32 max_faces = 1;",
                        "uint32 face_limit = 1;"),
      UnorderedElementsAre(
          IsFinding("FIELD_SAME_NAME",
                    "changed name from \"max_faces\" to \"face_limit\""),
          IsFinding("FIELD_SAME_JSON_NAME", "from \"maxFaces\" to \"faceLimit\"")));
}

TEST(ProtoContractTest, ARenamedEnumValueIsEnumValueSameName) {
  EXPECT_THAT(FindingsAfterEdit("stache/overlay/v1/overlay.proto",
                                "IMAGE_FORMAT_WEBP = 3;", "IMAGE_FORMAT_WEBP_LOSSY = 3;"),
              ElementsAre(IsFinding(
                  "ENUM_VALUE_SAME_NAME",
                  "from \"IMAGE_FORMAT_WEBP\" to \"IMAGE_FORMAT_WEBP_LOSSY\"")));
}

TEST(ProtoContractTest, AddingAFieldIsCompatible) {
  EXPECT_THAT(
      FindingsAfterEdit("stache/detector/v1/detector.proto", "float min_confidence = 3;",
                        "float min_confidence = 3;\n  bool include_debug_info = 99;"),
      IsEmpty());
}

// The documented way to retire a field (proto/README.md).
TEST(ProtoContractTest, DeprecatingAFieldIsCompatible) {
  EXPECT_THAT(FindingsAfterEdit("stache/overlay/v1/overlay.proto", "uint32 quality = 5;",
                                "uint32 quality = 5 [deprecated = true];"),
              IsEmpty());
}

}  // namespace
}  // namespace stache
