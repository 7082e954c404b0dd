// The gateway's REST JSON is a contract as much as the protos are: browsers,
// scripts and the stored image records depend on it. This test takes the
// JSON of every REST response kind and of a stored image record from the
// real binaries, reduces each to its shape (keys and value types), and
// compares it with tests/contracts/rest/shapes.json: a field that
// disappears or changes type fails; new fields are fine (additive).
//
// After an intended additive change, refresh the snapshot with
//   STACHE_WRITE_REST_SHAPES=tests/contracts/rest/shapes.json ctest -R rest_shape
// and review the diff: it may only add.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using json = nlohmann::json;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// {"a": 1, "b": [{"c": "x"}]} -> {"a": "number", "b": [{"c": "string"}]}.
// An array's shape is its first element's; an empty array's is [].
json ShapeOf(const json& value) {
  if (value.is_object()) {
    json shape = json::object();
    for (const auto& [key, element] : value.items()) shape[key] = ShapeOf(element);
    return shape;
  }
  if (value.is_array()) {
    return value.empty() ? json::array() : json::array({ShapeOf(value.front())});
  }
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "boolean";
  if (value.is_null()) return "null";
  return "string";
}

// What `actual` lost or retyped of `snapshot` (both shapes).
void CompareShape(const json& snapshot, const json& actual, const std::string& path,
                  std::vector<std::string>& errors) {
  if (snapshot.is_object()) {
    if (!actual.is_object()) {
      errors.push_back(absl::StrCat(path, ": was an object, is ", actual.dump()));
      return;
    }
    for (const auto& [key, shape] : snapshot.items()) {
      if (!actual.contains(key)) {
        errors.push_back(absl::StrCat(path, ".", key, ": disappeared"));
      } else {
        CompareShape(shape, actual[key], absl::StrCat(path, ".", key), errors);
      }
    }
  } else if (snapshot.is_array()) {
    if (!actual.is_array()) {
      errors.push_back(absl::StrCat(path, ": was an array, is ", actual.dump()));
    } else if (!snapshot.empty() && !actual.empty()) {
      CompareShape(snapshot[0], actual[0], path + "[]", errors);
    }
  } else if (snapshot != actual) {
    errors.push_back(
        absl::StrCat(path, ": was ", snapshot.dump(), ", is ", actual.dump()));
  }
}

TEST(RestShapeTest, ComparingFindsLostAndRetypedFieldsAndAllowsNewOnes) {
  const json before = ShapeOf(json::parse(R"({"id": "a", "faces": [{"x": 1}], "n": 2})"));
  std::vector<std::string> errors;
  CompareShape(before, ShapeOf(json::parse(R"({"id": "a", "faces": [{"x": 1, "y": 2}],
                                                "n": 2, "new": true})")),
               "body", errors);
  EXPECT_THAT(errors, IsEmpty());
  CompareShape(before, ShapeOf(json::parse(R"({"faces": [{"x": "1"}], "n": [2]})")),
               "body", errors);
  EXPECT_THAT(errors,
              UnorderedElementsAre("body.id: disappeared",
                                   "body.faces[].x: was \"number\", is \"string\"",
                                   "body.n: was \"number\", is [\"number\"]"));
}

TEST(RestShapeTest, EveryResponseKeepsItsShape) {
  e2e::ServiceStack stack;
  ASSERT_TRUE(stack.WaitUntilReady()) << stack.Logs();
  httplib::Result page = stack.Client()->Get("/");
  ASSERT_TRUE(page);
  const std::string cookie = page->get_header_value("Set-Cookie");
  const httplib::Headers session = {{"Cookie", cookie.substr(0, cookie.find(';'))},
                                    {"X-Stache-Client", "web"}};

  json bodies = json::object();
  httplib::Result upload =
      stack.Upload(ReadFileOrDie(TestDataPath("grace_hopper.jpg")), "handlebar", session);
  ASSERT_TRUE(upload);
  ASSERT_EQ(upload->status, 201) << upload->body;
  bodies["POST /v1/images"] = json::parse(upload->body);
  const std::string id = bodies["POST /v1/images"].at("id").get<std::string>();
  auto get = [&](const std::string& path, int status) {
    httplib::Result response = stack.Client()->Get(path, session);
    EXPECT_TRUE(response);
    if (!response) return json();
    EXPECT_EQ(response->status, status) << path << ": " << response->body;
    return json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  };
  bodies["GET /v1/images/{id}"] = get("/v1/images/" + id, 200);
  bodies["GET /v1/images"] = get("/v1/images", 200);
  bodies["GET /v1/styles"] = get("/v1/styles", 200);
  bodies["GET /v1/info"] = get("/v1/info", 200);
  bodies["error"] = get("/v1/images/0123456789abcdef01234567", 404);

  // The record as stored (records/<id>.json in the gateway's namespace).
  auto stored = RunCommand(
      {STACHE_GRPCURL, "-plaintext", "-H", "authorization: Bearer dev-gateway-token",
       "-d",
       json{{"namespace", "gateway"}, {"key", absl::StrCat("records/", id, ".json")}}
           .dump(),
       absl::StrCat("127.0.0.1:", stack.storage_port()),
       "stache.storage.v1.StorageService/Get"});
  ASSERT_EQ(stored.exit_code, 0) << stored.output;
  std::string record;
  std::istringstream messages(stored.output);
  while ((messages >> std::ws).peek() != EOF) {
    json message;
    messages >> message;
    std::string chunk;
    if (message.contains("chunk") &&
        absl::Base64Unescape(message["chunk"].get<std::string>(), &chunk)) {
      record += chunk;
    }
  }
  bodies["stored image record"] =
      json::parse(record, nullptr, /*allow_exceptions=*/false);

  json shapes = json::object();
  for (const auto& [name, body] : bodies.items()) shapes[name] = ShapeOf(body);
  if (const char* out = std::getenv("STACHE_WRITE_REST_SHAPES")) {
    std::ofstream(out) << shapes.dump(1) << "\n";
    GTEST_SKIP() << "wrote " << out;
  }
  const json snapshot = json::parse(ReadFileOrDie(STACHE_REST_SHAPES));
  for (const auto& [name, shape] : snapshot.items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(shapes.contains(name)) << name << " is no longer checked";
    std::vector<std::string> errors;
    CompareShape(shape, shapes[name], name, errors);
    EXPECT_THAT(errors, IsEmpty()) << absl::StrJoin(errors, "\n")
                                   << "\nnow: " << bodies[name].dump().substr(0, 2000);
  }
}

}  // namespace
}  // namespace stache
