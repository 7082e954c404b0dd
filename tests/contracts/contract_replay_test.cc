// Old clients against new servers: for every frozen release in
// proto/releases/, a descriptor set is built from the frozen image (so the
// client knows exactly what that release knew, and nothing newer), and the
// requests recorded for it in tests/contracts/<version>/*.json are replayed
// with grpcurl against the binaries of this tree. Each response is decoded
// with the release's schema and checked field by field for what the release
// promised: every field of the response is listed in the case (a field the
// server stops setting shows up as its zero value and fails), values are
// exact unless the promise is a range. This catches what buf cannot: a
// server that starts requiring a field, changes a default, or rejects a
// value it used to accept.
//
// A case file is a JSON array of cases, run in order against one set of
// freshly started servers:
//   {"name": "...", "service": "detector" | "overlay" | "storage",
//    "method": "stache.detector.v1.DetectorService/Detect",
//    "metadata": ["authorization: Bearer dev-gateway-token"],   (optional)
//    "requests": [{...}, ...],      one per message the client sends
//    "code": "OK",                  grpcurl's name of the status code
//    "responses": [{...}, ...]}     one expectation per message received
//   or "error": {...}               an expectation on {"code", "message"}
// In requests and expectations, "$photo:<name>" is replaced by the base64 of a test photo
// and
// "$text:<text>" by the base64 of <text>. Expectations are JSON values
// matched exactly, except objects whose keys start with "$" (see Match).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::stache::e2e::StartOnLoopback;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::MakeTempDir;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;

const fs::path kProtoDir = STACHE_PROTO_DIR;
const fs::path kCasesDir = STACHE_CONTRACT_CASES_DIR;

// One case file of one release: what a test instance replays.
struct CaseFile {
  std::string version;  // "0.1.0"
  fs::path path;        // tests/contracts/0.1.0/detector.json
};

void PrintTo(const CaseFile& file, std::ostream* os) { *os << file.path; }

std::vector<CaseFile> AllCaseFiles() {
  std::vector<CaseFile> files;
  for (const auto& release : fs::directory_iterator(kProtoDir / "releases")) {
    if (release.path().extension() != ".json") continue;
    const std::string version = release.path().stem().string();
    const fs::path dir = kCasesDir / version;
    // A release without recorded requests is a failure, not a skip.
    if (!fs::is_directory(dir)) {
      files.push_back({version, dir / "missing.json"});
      continue;
    }
    for (const auto& file : fs::directory_iterator(dir)) {
      if (file.path().extension() == ".json") files.push_back({version, file.path()});
    }
  }
  // Cases for a version that was never frozen would never run.
  for (const auto& dir : fs::directory_iterator(kCasesDir)) {
    const std::string version = dir.path().filename().string();
    if (dir.is_directory() && std::regex_match(version, std::regex(R"(\d+\.\d+\.\d+)")) &&
        !fs::exists(kProtoDir / "releases" / (version + ".json"))) {
      files.push_back({version, dir.path() / "no-release.json"});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const CaseFile& a, const CaseFile& b) { return a.path < b.path; });
  return files;
}

// ------------------------------------------------------------ requests

std::string Base64File(const std::string& path) {
  return absl::Base64Escape(ReadFileOrDie(path));
}

json ExpandPlaceholders(const json& value) {
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (absl::StartsWith(text, "$photo:"))
      return Base64File(TestDataPath(text.substr(7)));
    if (absl::StartsWith(text, "$text:")) return absl::Base64Escape(text.substr(6));
    return value;
  }
  if (value.is_object() || value.is_array()) {
    json out = value;
    for (auto& element : out) element = ExpandPlaceholders(element);
    return out;
  }
  return value;
}

// ------------------------------------------------------------ matching

std::string Show(const json& value) {
  std::string text = value.dump();
  if (text.size() > 200) text = absl::StrCat(text.substr(0, 200), "...");
  return text;
}

void Match(const json& expected, const json& actual, const std::string& path,
           std::vector<std::string>& errors);

// An image in base64: {"$image": {"mime": "image/png", "width": 512,
// "height": 600, "differsFrom": "$photo:grace_hopper.jpg",
// "minChangedPixels": 300, "maxChangedPixels": 5000, "hasColour": {"rgb":
// [200, 30, 160], "minPixels": 100}}}. "differsFrom" counts the pixels the
// drawing changed (by more than re-encoding does); "hasColour" counts pixels
// within 40 levels of a colour on every channel.
void MatchImage(const json& spec, const json& actual, const std::string& path,
                std::vector<std::string>& errors) {
  std::string bytes;
  if (!actual.is_string() || !absl::Base64Unescape(actual.get<std::string>(), &bytes)) {
    errors.push_back(absl::StrCat(path, ": not base64 bytes: ", Show(actual)));
    return;
  }
  static const std::map<std::string, std::string> kMagic = {
      {"image/jpeg", "\xff\xd8\xff"}, {"image/png", "\x89PNG"}, {"image/webp", "RIFF"}};
  const std::string mime = spec.at("mime").get<std::string>();
  if (!absl::StartsWith(bytes, kMagic.at(mime))) {
    errors.push_back(absl::StrCat(path, ": not ", mime));
    return;
  }
  const cv::Mat image = cv::imdecode(
      cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()), cv::IMREAD_COLOR);
  if (image.empty()) {
    errors.push_back(absl::StrCat(path, ": does not decode as ", mime));
    return;
  }
  if (image.cols != spec.at("width").get<int>() ||
      image.rows != spec.at("height").get<int>()) {
    errors.push_back(absl::StrCat(path, ": ", image.cols, "x", image.rows, ", expected ",
                                  Show(spec.at("width")), "x", Show(spec.at("height"))));
    return;
  }
  if (spec.contains("differsFrom")) {
    std::string original;
    absl::Base64Unescape(ExpandPlaceholders(spec["differsFrom"]).get<std::string>(),
                         &original);
    const cv::Mat before = cv::imdecode(
        cv::Mat(1, static_cast<int>(original.size()), CV_8U, original.data()),
        cv::IMREAD_COLOR);
    cv::Mat diff;
    cv::absdiff(before, image, diff);
    cv::Mat gray;
    cv::cvtColor(diff, gray, cv::COLOR_BGR2GRAY);
    // Re-encoding alone moves pixels by a few levels; a mustache by far more.
    const int changed = cv::countNonZero(gray > 60);
    const int min_changed = spec.at("minChangedPixels").get<int>();
    const int max_changed = spec.value("maxChangedPixels", image.rows * image.cols);
    if (changed < min_changed || changed > max_changed) {
      errors.push_back(absl::StrCat(path, ": ", changed,
                                    " pixels changed by more than 60 levels; expected ",
                                    min_changed, "..", max_changed));
    }
  }
  if (spec.contains("hasColour")) {
    const json& rgb = spec["hasColour"].at("rgb");
    const cv::Scalar bgr(rgb[2].get<int>(), rgb[1].get<int>(), rgb[0].get<int>());
    cv::Mat near;
    cv::inRange(image, bgr - cv::Scalar::all(40), bgr + cv::Scalar::all(40), near);
    const int count = cv::countNonZero(near);
    const int min_pixels = spec["hasColour"].at("minPixels").get<int>();
    if (count < min_pixels) {
      errors.push_back(absl::StrCat(path, ": ", count, " pixels near RGB ", Show(rgb),
                                    "; expected at least ", min_pixels));
    }
  }
}

// Operators, several allowed in one object:
//   {"$range": [lo, hi]}      a number in [lo, hi]
//   {"$oneOf": [a, b]}        equal to one of them
//   {"$matches": "regex"}     a string matching the whole regex
//   {"$size": n}              an array or object with n elements
//   {"$each": e}              every element of an array matches e
//   {"$contains": [e, ...]}   each e matches some element of the array
//   {"$image": {...}}         see MatchImage
//   {"$any": true}            anything (a field whose value is not promised)
void MatchOperators(const json& expected, const json& actual, const std::string& path,
                    std::vector<std::string>& errors) {
  for (const auto& [op, arg] : expected.items()) {
    if (op == "$any") continue;
    if (op == "$range") {
      if (!actual.is_number() || actual.get<double>() < arg[0].get<double>() ||
          actual.get<double>() > arg[1].get<double>()) {
        errors.push_back(
            absl::StrCat(path, ": ", Show(actual), " is not in ", Show(arg)));
      }
    } else if (op == "$oneOf") {
      if (std::find(arg.begin(), arg.end(), actual) == arg.end()) {
        errors.push_back(
            absl::StrCat(path, ": ", Show(actual), " is not one of ", Show(arg)));
      }
    } else if (op == "$matches") {
      if (!actual.is_string() || !std::regex_match(actual.get<std::string>(),
                                                   std::regex(arg.get<std::string>()))) {
        errors.push_back(
            absl::StrCat(path, ": ", Show(actual), " does not match ", Show(arg)));
      }
    } else if (op == "$size") {
      if (!(actual.is_array() || actual.is_object()) ||
          actual.size() != arg.get<size_t>()) {
        errors.push_back(absl::StrCat(path, ": ", Show(actual), " does not have ",
                                      Show(arg), " elements"));
      }
    } else if (op == "$each") {
      if (!actual.is_array()) {
        errors.push_back(absl::StrCat(path, ": not an array: ", Show(actual)));
        continue;
      }
      for (size_t i = 0; i < actual.size(); ++i) {
        Match(arg, actual[i], absl::StrCat(path, "[", i, "]"), errors);
      }
    } else if (op == "$contains") {
      for (const json& wanted : arg) {
        const bool found =
            actual.is_array() &&
            std::any_of(actual.begin(), actual.end(), [&](const json& element) {
              std::vector<std::string> ignored;
              Match(wanted, element, path, ignored);
              return ignored.empty();
            });
        if (!found) {
          errors.push_back(absl::StrCat(path, ": no element matches ", Show(wanted)));
        }
      }
    } else if (op == "$image") {
      MatchImage(arg, actual, path, errors);
    } else {
      ADD_FAILURE() << "unknown operator " << op << " at " << path;
    }
  }
}

void Match(const json& expected, const json& actual, const std::string& path,
           std::vector<std::string>& errors) {
  if (expected.is_object() && !expected.empty() &&
      expected.begin().key().starts_with("$")) {
    MatchOperators(expected, actual, path, errors);
    return;
  }
  if (expected.is_object()) {
    if (!actual.is_object()) {
      errors.push_back(absl::StrCat(path, ": expected an object, got ", Show(actual)));
      return;
    }
    // Every field the release's schema has is in the response (grpcurl
    // -emit-defaults), and every one must be listed: nothing goes unchecked.
    for (const auto& [key, value] : actual.items()) {
      if (!expected.contains(key)) {
        errors.push_back(absl::StrCat(path, ".", key, ": not listed in the case (got ",
                                      Show(value), ")"));
      }
    }
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key)) {
        errors.push_back(absl::StrCat(path, ".", key, ": missing"));
      } else {
        Match(value, actual[key], absl::StrCat(path, ".", key), errors);
      }
    }
    return;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      errors.push_back(absl::StrCat(path, ": expected ", expected.size(),
                                    " elements, got ", Show(actual)));
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      Match(expected[i], actual[i], absl::StrCat(path, "[", i, "]"), errors);
    }
    return;
  }
  if (expected.is_number() && actual.is_number()
          ? expected.get<double>() != actual.get<double>()
          : expected != actual) {
    errors.push_back(
        absl::StrCat(path, ": expected ", Show(expected), ", got ", Show(actual)));
  }
}

// ------------------------------------------------------------ servers

class Servers final {
 public:
  // The port of `service`, started on first use.
  int Port(const std::string& service) {
    if (auto it = ports_.find(service); it != ports_.end()) return it->second;
    const int port = PickUnusedPort();
    std::vector<std::string> argv = {BinaryPath("stache-" + service),
                                     absl::StrCat("--port=", port)};
    if (service == "storage") argv.push_back("--data_dir=" + MakeTempDir());
    processes_.push_back(StartOnLoopback(argv, port));
    ports_[service] = port;
    return port;
  }
  std::string Logs() const {
    std::string logs;
    for (const auto& process : processes_) absl::StrAppend(&logs, process->Output());
    return logs;
  }

 private:
  std::map<std::string, int> ports_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

// A protoset (FileDescriptorSet) of the frozen release: the old client's
// whole knowledge of the API.
fs::path ProtosetOf(const std::string& version) {
  const fs::path out = fs::path(MakeTempDir()) / (version + ".protoset");
  auto result = RunCommand({STACHE_BUF, "build",
                            (kProtoDir / "releases" / (version + ".json")).string(),
                            "--as-file-descriptor-set", "-o", out.string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return out;
}

// google.rpc.ErrorInfo and Status, so that grpcurl decodes the error
// details (a Google type any client can know; not part of a stache release).
fs::path ErrorDetailsProtoset() {
  const fs::path out = fs::path(MakeTempDir()) / "google_rpc.protoset";
  auto result =
      RunCommand({"protoc", "--include_imports", "--descriptor_set_out=" + out.string(),
                  "-I", STACHE_GOOGLEAPIS_DIR, "google/rpc/error_details.proto"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return out;
}

// Every JSON value grpcurl printed, in order.
std::vector<json> JsonValues(const std::string& output) {
  std::vector<json> values;
  std::istringstream in(output);
  while (true) {
    in >> std::ws;
    if (in.peek() == EOF) break;
    json value;
    try {
      in >> value;
    } catch (const json::exception& e) {
      ADD_FAILURE() << "grpcurl printed something that is not JSON: " << output;
      break;
    }
    values.push_back(std::move(value));
  }
  return values;
}

class ContractReplayTest : public ::testing::TestWithParam<CaseFile> {};

TEST_P(ContractReplayTest, ReleaseClientGetsWhatTheReleasePromised) {
  const CaseFile& file = GetParam();
  ASSERT_TRUE(fs::exists(kProtoDir / "releases" / (file.version + ".json")))
      << file.path.parent_path() << " holds cases for " << file.version
      << ", which is not a release in proto/releases/";
  ASSERT_TRUE(fs::exists(file.path))
      << "release " << file.version << " has no recorded requests in "
      << file.path.parent_path() << " (proto/README.md, \"Cutting a release\")";
  const json cases = json::parse(ReadFileOrDie(file.path.string()));
  ASSERT_TRUE(cases.is_array() && !cases.empty()) << file.path;
  const fs::path protoset = ProtosetOf(file.version);
  const fs::path error_details = ErrorDetailsProtoset();
  Servers servers;
  for (const json& test_case : cases) {
    const std::string name = test_case.at("name").get<std::string>();
    SCOPED_TRACE(name);
    std::vector<std::string> argv = {STACHE_GRPCURL,
                                     "-plaintext",
                                     "-protoset",
                                     protoset.string(),
                                     "-protoset",
                                     error_details.string(),
                                     "-emit-defaults",
                                     "-format-error",
                                     "-max-msg-sz",
                                     "67108864",
                                     "-d",
                                     "@"};
    for (const json& metadata : test_case.value("metadata", json::array())) {
      argv.insert(argv.end(), {"-H", metadata.get<std::string>()});
    }
    argv.push_back(absl::StrCat("127.0.0.1:", servers.Port(test_case.at("service"))));
    argv.push_back(test_case.at("method").get<std::string>());
    std::string input;
    for (const json& request : test_case.at("requests")) {
      absl::StrAppend(&input, ExpandPlaceholders(request).dump(), "\n");
    }
    const auto result = RunCommand(argv, absl::Seconds(60), input);
    std::vector<json> received = JsonValues(result.output);
    std::vector<std::string> errors;
    if (test_case.contains("error")) {
      // grpcurl exits 64 + the status code and prints the status as JSON.
      if (result.exit_code <= 64 || received.size() != 1) {
        errors.push_back(absl::StrCat("expected an error status, got exit ",
                                      result.exit_code, ": ",
                                      result.output.substr(0, 500)));
      } else {
        Match(ExpandPlaceholders(test_case["error"]), received[0], "status", errors);
      }
    } else {
      if (result.exit_code != 0) {
        errors.push_back(absl::StrCat("expected OK, got exit ", result.exit_code, ": ",
                                      result.output.substr(0, 500)));
      } else {
        Match(ExpandPlaceholders(test_case.at("responses")), json(received), "responses",
              errors);
      }
    }
    EXPECT_THAT(errors, ::testing::IsEmpty())
        << file.version << " " << file.path.filename() << ": " << name << "\n"
        << absl::StrJoin(errors, "\n");
  }
  if (HasFailure()) ADD_FAILURE() << "server logs:\n" << servers.Logs().substr(0, 4000);
}

INSTANTIATE_TEST_SUITE_P(Releases, ContractReplayTest,
                         ::testing::ValuesIn(AllCaseFiles()),
                         [](const ::testing::TestParamInfo<CaseFile>& info) {
                           std::string name =
                               absl::StrCat("v", info.param.version, "_",
                                            info.param.path.stem().string());
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(c); }, '_');
                           return name;
                         });

}  // namespace
}  // namespace stache
