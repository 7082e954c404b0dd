// Our SigV4 signer against the reference: botocore's S3SigV4Auth (Debian's
// python3-botocore, run with /usr/bin/python3) signs the same request shapes
// with the same clock and keys, and the canonical requests, Authorization
// headers and sent headers must be identical. MinIO (the integration tests'
// S3) does not require x-amz-content-sha256 and accepts what AWS refuses;
// botocore is how AWS's own SDK signs. The S3Client test then checks that
// every request the client really sends is signed this way.
#include "storage/internal/sigv4.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "storage/internal/s3_client.h"
#include "storage/internal/sha256.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage::internal {
namespace {

using ::nlohmann::json;
using ::stache::testing::IsOk;
using ::testing::HasSubstr;

constexpr char kBotocoreSigner[] = STACHE_SOURCE_DIR "/storage/testing/botocore_sign.py";
constexpr char kTime[] = "20261130T120000Z";  // SignWithOurs's clock

struct Shape {
  std::string name;
  std::string endpoint = "https://s3.eu-west-1.amazonaws.com";
  std::string region = "eu-west-1";
  std::string method = "GET";
  std::string bucket = "stache-photos";
  std::string key;
  std::vector<std::pair<std::string, std::string>> query;
  HttpHeaders headers;
  std::string body;  // PUT only
  std::string session_token;
};

constexpr char kAccessKeyId[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecretAccessKey[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
// A task role's temporary token: long, with "/", "+" and "=".
constexpr char kSessionToken[] =
    "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQD+example+token/"
    "with+slashes==";

std::vector<Shape> Shapes() {
  const std::vector<std::pair<std::string, std::string>> list = {{"list-type", "2"},
                                                                 {"max-keys", "1000"}};
  auto with = [](std::vector<std::pair<std::string, std::string>> base,
                 std::vector<std::pair<std::string, std::string>> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  return {
      {.name = "get object", .key = "objects/gateway/photo-1.jpg"},
      {.name = "head object", .method = "HEAD", .key = "objects/gateway/photo-1.jpg"},
      {.name = "delete object",
       .method = "DELETE",
       .key = "index/gateway/0001-ab/photo.jpg"},
      {.name = "head bucket", .method = "HEAD"},
      {.name = "put object with metadata",
       .method = "PUT",
       .key = "objects/gateway/photo-1.jpg",
       .headers = {{"Content-Type", "image/jpeg"},
                   {"x-amz-meta-stache-entry", "99998-0123456789abcdef"},
                   {"x-amz-meta-stache-sha256", Sha256Hex("jpeg bytes")}},
       .body = "jpeg bytes"},
      {.name = "put json index entry",
       .method = "PUT",
       .key = "index/gateway/0001-ab/photo.jpg",
       .headers = {{"Content-Type", "application/json"}},
       .body = R"({"size_bytes":10})"},
      {.name = "create bucket (empty put)", .method = "PUT"},
      {.name = "list with prefix", .query = with(list, {{"prefix", "index/gateway/"}})},
      {.name = "list with prefix and continuation token",
       .query = with(list, {{"prefix", "objects/"},
                            {"continuation-token", "1PvR+3k/aF9=ZmFrZQ=="}})},
      {.name = "list with start-after",
       .query =
           with(list, {{"prefix", "index/ns/"}, {"start-after", "index/ns/0001-ab/k"}})},
      {.name = "key with spaces", .key = "objects/gateway/my holiday photo.jpg"},
      {.name = "key with plus", .key = "objects/gateway/a+b.jpg"},
      {.name = "key with percent", .key = "objects/gateway/100%25 sure.jpg"},
      {.name = "key with unicode", .key = "objects/gateway/café-\xe2\x98\x95.jpg"},
      {.name = "key with reserved characters",
       .key = "objects/a=b&c?d#e!f*g'h(i),j;k:l@m$n"},
      {.name = "session token on get",
       .key = "objects/gateway/x.jpg",
       .session_token = kSessionToken},
      {.name = "session token on put",
       .method = "PUT",
       .key = "objects/gateway/x.jpg",
       .headers = {{"Content-Type", "image/png"}},
       .body = "png",
       .session_token = kSessionToken},
      {.name = "session token on list",
       .query = with(list, {{"prefix", "objects/"}}),
       .session_token = kSessionToken},
      {.name = "header value with runs of spaces",
       .method = "PUT",
       .key = "k",
       .headers = {{"Content-Type", "  text/plain;  \t charset=utf-8 "}},
       .body = "x"},
      {.name = "minio on a port, another region",
       .endpoint = "http://127.0.0.1:9000",
       .region = "us-east-1",
       .key = "objects/a b.jpg"},
      {.name = "default port left out of host",
       .endpoint = "https://s3.us-west-2.amazonaws.com",
       .region = "us-west-2",
       .method = "DELETE",
       .key = "objects/z"},
  };
}

std::string HostOf(absl::string_view endpoint) {
  return std::string(endpoint.substr(endpoint.find("://") + 3));
}

SignedS3Request SignWithOurs(const Shape& shape) {
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  return SignS3Request(
      {.method = shape.method,
       .host = HostOf(shape.endpoint),
       .path = S3CanonicalPath(shape.bucket, shape.key),
       .query = shape.query,
       .headers = shape.headers,
       .payload_sha256_hex = shape.method == "PUT" ? Sha256Hex(shape.body) : ""},
      {.access_key_id = kAccessKeyId,
       .secret_access_key = kSecretAccessKey,
       .session_token = shape.session_token},
      shape.region, now);
}

json SignWithBotocore(const std::vector<Shape>& shapes) {
  json requests = json::array();
  for (const Shape& shape : shapes) {
    requests.push_back({{"endpoint", shape.endpoint},
                        {"region", shape.region},
                        {"method", shape.method},
                        {"bucket", shape.bucket},
                        {"key", shape.key},
                        {"query", shape.query},
                        {"headers", shape.headers},
                        {"body", shape.body},
                        {"access_key_id", kAccessKeyId},
                        {"secret_access_key", kSecretAccessKey},
                        {"session_token", shape.session_token}});
  }
  const std::string input = ::stache::testing::MakeTempDir() + "/requests.json";
  std::ofstream(input) << json{{"time", kTime}, {"requests", requests}}.dump();
  const auto result =
      ::stache::testing::RunCommand({"/usr/bin/python3", kBotocoreSigner, input});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return json::parse(result.output, nullptr, /*allow_exceptions=*/false);
}

TEST(SigV4Test, SignsEveryRequestShapeExactlyAsBotocore) {
  if (!std::ifstream("/usr/bin/python3").good()) {
    GTEST_SKIP()
        << "/usr/bin/python3 with python3-botocore is missing (scripts/setup.sh)";
  }
  const std::vector<Shape> shapes = Shapes();
  ASSERT_GE(shapes.size(), 15u);
  const json reference = SignWithBotocore(shapes);
  ASSERT_TRUE(reference.is_array()) << reference.dump();
  ASSERT_EQ(reference.size(), shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    SCOPED_TRACE(shapes[i].name);
    const SignedS3Request ours = SignWithOurs(shapes[i]);
    EXPECT_EQ(ours.canonical_request, reference[i]["canonical_request"]);
    EXPECT_EQ(ours.authorization, reference[i]["authorization"]);
    // The headers sent: botocore's, plus Host (which its HTTP client adds).
    std::map<std::string, std::string> sent;
    for (const auto& [name, value] : ours.headers)
      sent[absl::AsciiStrToLower(name)] = value;
    std::map<std::string, std::string> expected =
        reference[i]["headers"].get<std::map<std::string, std::string>>();
    expected["host"] = HostOf(shapes[i].endpoint);
    EXPECT_EQ(sent, expected);
  }
}

TEST(SigV4Test, EveryRequestSignsItsPayloadHash) {
  for (const Shape& shape : Shapes()) {
    const SignedS3Request ours = SignWithOurs(shape);
    EXPECT_THAT(ours.authorization, HasSubstr("x-amz-content-sha256")) << shape.name;
    EXPECT_THAT(ours.canonical_request,
                HasSubstr(absl::StrCat("x-amz-content-sha256:", Sha256Hex(shape.body))))
        << shape.name;
  }
}

TEST(SigV4Test, EncodesPathsOnceAndQueriesFully) {
  EXPECT_EQ(S3CanonicalPath("b", "index/gateway/a-b_c.d~e"),
            "/b/index/gateway/a-b_c.d~e");
  EXPECT_EQ(S3CanonicalPath("b", "a b+c%d"), "/b/a%20b%2Bc%25d");
  EXPECT_EQ(S3CanonicalPath("b", ""), "/b");
  EXPECT_EQ(UriEncode("index/gateway/a-b_c.d~e"), "index%2Fgateway%2Fa-b_c.d~e");
  EXPECT_EQ(UriEncode("a b+c=d&e"), "a%20b%2Bc%3Dd%26e");
}

// A stand-in S3 that records each request and answers just enough.
class RecordingS3 {
 public:
  struct Seen {
    std::string method, path, body;
    std::map<std::string, std::string> headers;  // lower-case names
  };
  RecordingS3() {
    auto record = [this](const httplib::Request& request, httplib::Response& response) {
      Seen seen{.method = request.method, .path = request.path, .body = request.body};
      for (const auto& [name, value] : request.headers)
        seen.headers[absl::AsciiStrToLower(name)] = value;
      if (request.has_param("list-type")) {
        response.set_content(
            "<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>"
            "<IsTruncated>false</IsTruncated></ListBucketResult>",
            "application/xml");
      } else if (request.method == "GET") {
        response.set_content("{}", "application/json");
      }
      absl::MutexLock lock(&mutex_);
      seen_.push_back(std::move(seen));
    };
    server_.Get(".*", record);
    server_.Put(".*", record);
    server_.Delete(".*", record);
    server_.Options(".*", record);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordingS3() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mutex_);
    return seen_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex mutex_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mutex_);
};

TEST(S3ClientSigningTest, EveryRequestCarriesASignedContentHash) {
  RecordingS3 s3;
  auto client =
      S3Client::Create({.endpoint = absl::StrCat("http://127.0.0.1:", s3.port()),
                        .region = "eu-west-1",
                        .credentials = {.access_key_id = kAccessKeyId,
                                        .secret_access_key = kSecretAccessKey,
                                        .session_token = kSessionToken}});
  ASSERT_THAT(client, IsOk());
  S3Client& s3_client = **client;
  EXPECT_THAT(s3_client.HeadBucket("b"), IsOk());
  EXPECT_THAT(s3_client.HeadObject("b", "objects/a b.jpg"), IsOk());
  EXPECT_THAT(s3_client.GetObjectBytes("b", "index/k"), IsOk());
  EXPECT_THAT(s3_client.DeleteObject("b", "objects/k"), IsOk());
  EXPECT_THAT(s3_client.ListObjects("b", "objects/", "", "tok+en/=", 10), IsOk());
  const std::string body = "some bytes";
  EXPECT_THAT(
      s3_client.PutObject(
          "b", "objects/k",
          {.bytes = body, .size_bytes = body.size(), .sha256_hex = Sha256Hex(body)},
          "image/jpeg", {{"stache-entry", "e"}}),
      IsOk());

  const std::vector<RecordingS3::Seen> seen = s3.seen();
  ASSERT_EQ(seen.size(), 6u);
  for (const RecordingS3::Seen& request : seen) {
    SCOPED_TRACE(absl::StrCat(request.method, " ", request.path));
    ASSERT_TRUE(request.headers.count("x-amz-content-sha256"));
    EXPECT_EQ(request.headers.at("x-amz-content-sha256"), Sha256Hex(request.body));
    EXPECT_EQ(request.headers.at("x-amz-security-token"), kSessionToken);
    EXPECT_EQ(request.headers.at("host"), absl::StrCat("127.0.0.1:", s3.port()));
    EXPECT_THAT(
        request.headers.at("authorization"),
        ::testing::ContainsRegex("SignedHeaders=[a-z;-]*host;x-amz-content-sha256;"
                                 "x-amz-date;[a-z;-]*x-amz-security-token,"));
  }
  EXPECT_EQ(seen[1].method, "HEAD");
  EXPECT_EQ(seen[3].method, "DELETE");
  EXPECT_EQ(seen[5].headers.at("x-amz-meta-stache-entry"), "e");
}

TEST(S3ClientSigningTest, RefusesAnEndpointWithAPath) {
  EXPECT_FALSE(
      S3Client::Create({.endpoint = "https://s3.amazonaws.com/bucket",
                        .credentials = {.access_key_id = "a", .secret_access_key = "b"}})
          .ok());
}

}  // namespace
}  // namespace stache::storage::internal
