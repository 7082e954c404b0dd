// Hostile HTTP clients against the real stache-gateway binary on loopback,
// in front of the fake backends (gateway/testing/fake_backends.h) served
// in this process (issue #12). Each case starts its own gateway, attacks
// it, and asserts the status it answers, that the process still serves
// /healthz, and that its peak RSS (VmHWM) stayed under kMaxGatewayRssBytes.
// Every attack is bounded in bytes and time.
//
// Attacks: chunked bodies far over the limit (concurrently, to /v1/images
// and to a route that takes no body), bodies without framing, gzip
// Content-Encoding, 500 ranges on an image, a huge request line, millions
// of header fields, large header fields, slow-loris clients (one byte every
// 500 ms, 40 of them), ten times more connections than the cap, a backend that
// throws, a backend that is down (no addresses in the error).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <cstdint>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/testing/fake_backends.h"
#include "gateway/testing/raw_connection.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::nlohmann::json;
using ::stache::gateway::testing::FakeBackends;
using ::stache::gateway::testing::kFakeStorageToken;
using ::stache::gateway::testing::RawConnection;
using ::stache::gateway::testing::TestJpeg;
using ::stache::gateway::testing::UploadHeaders;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The gateway's default --max_body_bytes: the attacks are sized against
// what production accepts.
constexpr int64_t kMaxBodyBytes = 20'000'000;
// The goal for the gateway under attack.
constexpr int64_t kMaxGatewayRssBytes = 300'000'000;
// The whole-request deadline the attacked gateway runs with.
constexpr absl::Duration kRequestTimeout = absl::Seconds(3);

// VmHWM (peak) or VmRSS of a process, in bytes; -1 when unreadable.
int64_t MemoryOf(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::vector<std::string> words = absl::StrSplit(
        line.substr(field.size() + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t kilobytes = 0;
    if (!words.empty() && absl::SimpleAtoi(words[0], &kilobytes)) return kilobytes * 1024;
  }
  return -1;
}

// The status code of a raw HTTP answer; 0 when there is none.
int StatusOf(const std::string& answer) {
  int status = 0;
  if (std::sscanf(answer.c_str(), "HTTP/1.1 %d", &status) != 1) return 0;
  return status;
}

class HostileHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  void StartGateway(const std::vector<std::string>& extra_flags = {}) {
    port_ = testing::PickUnusedPort();
    admin_port_ = testing::PickUnusedPort();
    std::vector<std::string> argv = {
        testing::BinaryPath("stache-gateway"),
        absl::StrCat("--port=", port_),
        absl::StrCat("--admin_port=", admin_port_),
        "--detector_address=" + backends_.detector_address(),
        "--overlay_address=" + backends_.overlay_address(),
        "--storage_address=" + backends_.storage_address(),
        absl::StrCat("--max_body_bytes=", kMaxBodyBytes),
        absl::StrCat("--http_read_timeout=", absl::FormatDuration(kRequestTimeout)),
        "--http_write_timeout=3s",
        "--http_keep_alive_timeout=1s",
        "--backend_timeout=5s",
        "--probe_timeout=1s",
        "--grace_period=2s"};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    gateway_ = e2e::StartOnLoopback(
        argv, port_,
        {{"STACHE_STORAGE_TOKEN", kFakeStorageToken}, {"STACHE_ADMIN_PORT", "0"}});
  }

  void SetUp() override { StartGateway(); }

  void TearDown() override {
    ASSERT_NE(gateway_, nullptr);
    EXPECT_TRUE(gateway_->Running()) << gateway_->Output();
    EXPECT_EQ(Get("/healthz").first, 200);
    const int64_t peak = MemoryOf(gateway_->pid(), "VmHWM");
    const int64_t now = MemoryOf(gateway_->pid(), "VmRSS");
    std::printf("gateway memory: peak %.1f MB, now %.1f MB\n", peak / 1e6, now / 1e6);
    RecordProperty("gateway_peak_rss_bytes", std::to_string(peak));
    EXPECT_GT(peak, 0);
    EXPECT_LT(peak, kMaxGatewayRssBytes);
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(10, 0);
    client->set_connection_timeout(10, 0);
    return client;
  }

  std::pair<int, std::string> Get(const std::string& path,
                                  const httplib::Headers& headers = {}) const {
    httplib::Result result = Client()->Get(path, headers);
    if (!result) return {0, ""};
    return {result->status, result->body};
  }

  // Sends `head`, then `piece` repeatedly until `max_bytes` went or the
  // gateway stopped reading; returns the answer read afterwards.
  std::string Flood(const std::string& head, const std::string& piece,
                    int64_t max_bytes) {
    RawConnection connection(port_);
    if (!connection.Send(head)) return "";
    for (int64_t sent = 0; sent < max_bytes && connection.Send(piece);) {
      sent += static_cast<int64_t>(piece.size());
    }
    return connection.ReadUntil("}}", absl::Seconds(10));
  }

  FakeBackends backends_;
  int port_ = 0;
  int admin_port_ = 0;
  std::unique_ptr<testing::ChildProcess> gateway_;
};

TEST_F(HostileHttpTest, ChunkedBodiesOverTheLimitAre413WithoutBeingBuffered) {
  const std::string chunk(64 * 1024, 'c');
  const std::string framed = absl::StrCat(absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
  auto attack = [&](const std::string& path) {
    return std::async(std::launch::async, [&, path] {
      return Flood(absl::StrCat("POST ", path,
                                " HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                   framed, 3 * kMaxBodyBytes);
    });
  };
  // Six at once, as in the issue; half to a route that reads no body.
  std::vector<std::future<std::string>> uploads, styles;
  for (int i = 0; i < 3; ++i) {
    uploads.push_back(attack("/v1/images"));
    styles.push_back(attack("/v1/styles"));
  }
  for (auto& answer : uploads) {
    const std::string text = answer.get();
    EXPECT_EQ(StatusOf(text), 413) << text.substr(0, 300);
    EXPECT_THAT(text, HasSubstr("larger than the limit"));
  }
  for (auto& answer : styles) {
    const std::string text = answer.get();
    EXPECT_EQ(StatusOf(text), 404) << text.substr(0, 300);
    EXPECT_THAT(text, HasSubstr("Connection: close"));
  }
}

TEST_F(HostileHttpTest, BodiesWithoutFramingAreNeverRead) {
  // No Content-Length, not chunked: HTTP/1.1 says there is no body, so
  // what follows is not buffered as one.
  const std::string answer =
      Flood("POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n\r\n",
            std::string(64 * 1024, 'n'), 3 * kMaxBodyBytes);
  EXPECT_EQ(StatusOf(answer), 400) << answer.substr(0, 300);
  EXPECT_THAT(answer, HasSubstr("no body"));
}

TEST_F(HostileHttpTest, EncodedBodiesAre415BeforeTheyAreRead) {
  for (const std::string& extra : {std::string("Content-Encoding: gzip\r\n"),
                                   std::string("Content-Encoding: br\r\n")}) {
    RawConnection connection(port_);
    // A 1 MB gzip body could inflate to gigabytes; its head is enough.
    ASSERT_TRUE(connection.Send(
        UploadHeaders(1'000'000, "multipart/form-data; boundary=b", extra)));
    const std::string answer = connection.ReadUntil("}}", absl::Seconds(10));
    EXPECT_EQ(StatusOf(answer), 415) << answer;
    EXPECT_THAT(answer, HasSubstr("Content-Encoding"));
  }
  RawConnection transfer_coded(port_);
  ASSERT_TRUE(transfer_coded.Send(
      "POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
      "Transfer-Encoding: gzip, chunked\r\n\r\n"));
  EXPECT_EQ(StatusOf(transfer_coded.ReadUntil("}}", absl::Seconds(10))), 415);
}

TEST_F(HostileHttpTest, ManyRangesGetTheWholeImageOnce) {
  httplib::Result uploaded = Client()->Post("/v1/images", TestJpeg(), "image/jpeg");
  ASSERT_TRUE(uploaded);
  ASSERT_EQ(uploaded->status, 201) << uploaded->body;
  const std::string id = json::parse(uploaded->body)["id"];
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&ranges, ",0-", 1000 + i);
  httplib::Result image =
      Client()->Get(absl::StrCat("/v1/images/", id, "/original"), {{"Range", ranges}});
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(image->body, TestJpeg());
  EXPECT_THAT(image->get_header_value("Content-Type"), Not(HasSubstr("multipart")));
}

TEST_F(HostileHttpTest, HugeRequestLineIs414) {
  const std::string answer =
      Flood("GET /v1/images/", std::string(64 * 1024, 'a'), 300'000'000);
  EXPECT_EQ(StatusOf(answer), 414) << answer.substr(0, 300);
}

TEST_F(HostileHttpTest, MillionsOfHeaderFieldsAre431) {
  std::string fields;
  for (int i = 0; i < 10'000; ++i) fields += "X: y\r\n";
  // 3 million fields, 18 MB, unless the gateway stops reading first.
  const std::string answer =
      Flood("GET /healthz HTTP/1.1\r\nHost: x\r\n", fields, 300 * fields.size());
  EXPECT_EQ(StatusOf(answer), 431) << answer.substr(0, 300);

  httplib::Headers many;
  for (int i = 0; i < 101; ++i) many.emplace(absl::StrCat("X-Many-", i), "v");
  httplib::Result counted = Client()->Get("/healthz", many);
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->status, 431);
  EXPECT_THAT(counted->body, HasSubstr("header fields"));
}

TEST_F(HostileHttpTest, HeaderFieldsLargerThanTheLimitTogetherAre431) {
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i)
    absl::StrAppend(&head, "X-Big-", i, ": ", std::string(4000, 'b'), "\r\n");
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(head + "\r\n"));
  const std::string answer = connection.ReadUntil("}}", absl::Seconds(10));
  EXPECT_EQ(StatusOf(answer), 431) << answer.substr(0, 300);
}

TEST_F(HostileHttpTest, SlowClientsAreClosedAtTheDeadlineWhileHealthzAnswers) {
  constexpr int kSlowClients = 40;
  struct Slow {
    std::unique_ptr<RawConnection> connection;
    std::string script;  // what it trickles, a byte at a time
    size_t next = 0;
    absl::Time start;
    std::optional<absl::Duration> held;
  };
  std::vector<Slow> slow(kSlowClients);
  for (int i = 0; i < kSlowClients; ++i) {
    slow[i].connection = std::make_unique<RawConnection>(port_);
    slow[i].start = absl::Now();
    // Half trickle their head, half a body after a complete head.
    if (i % 2 == 0) {
      slow[i].script =
          "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 's');
    } else {
      ASSERT_TRUE(slow[i].connection->Send(UploadHeaders(100'000, "image/jpeg")));
      slow[i].script = std::string(1000, 'b');
    }
  }
  int healthz_checks = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (absl::Now() < give_up) {
    int open = 0;
    for (Slow& client : slow) {
      if (client.held.has_value()) continue;
      client.connection->ReadUntil("never-sent", absl::Milliseconds(1));
      if (client.connection->peer_closed() ||
          !client.connection->Send(
              client.script.substr(client.next++ % client.script.size(), 1))) {
        client.held = absl::Now() - client.start;
        continue;
      }
      ++open;
    }
    if (open == 0) break;
    // While they hold their connections, the gateway answers others.
    const absl::Time before = absl::Now();
    EXPECT_EQ(Get("/healthz").first, 200);
    EXPECT_LT(absl::Now() - before, absl::Seconds(1));
    ++healthz_checks;
    absl::SleepFor(absl::Milliseconds(500));  // the attack's own pace
  }
  EXPECT_GE(healthz_checks, 2);
  for (const Slow& client : slow) {
    ASSERT_TRUE(client.held.has_value()) << "a slow client was never closed";
    // Closed at the whole-request deadline, though it never stopped sending.
    EXPECT_GE(*client.held, kRequestTimeout - absl::Milliseconds(200));
    // (Noticed here within a round of the loop, about 2.5 s.)
    EXPECT_LT(*client.held, kRequestTimeout + absl::Seconds(4));
  }
}

TEST_F(HostileHttpTest, AConnectionFloodCannotLockOutANormalClient) {
  gateway_.reset();
  StartGateway({"--http_max_connections=32"});
  // Ten times the cap, each sending half a head and then nothing.
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 320; ++i) {
    flood.push_back(std::make_unique<RawConnection>(port_));
    flood.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  // A normal client is served at once: the longest-waiting heads make room.
  for (int i = 0; i < 5; ++i) {
    const absl::Time before = absl::Now();
    EXPECT_EQ(Get("/healthz").first, 200);
    EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  }
  // The gateway's metrics are on its admin port.
  httplib::Result metrics = httplib::Client("127.0.0.1", admin_port_).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("stache_gateway_http_connections_evicted_total"));
  EXPECT_THAT(metrics->body,
              Not(HasSubstr("stache_gateway_http_connections_evicted_total 0")));
}

TEST_F(HostileHttpTest, ABackendThatThrowsIs500WithTheRequestIdAndNoDetails) {
  backends_.detector().ThrowInDetect();
  httplib::Result response = Client()->Post("/v1/images", TestJpeg(), "image/jpeg");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500) << response->body;
  const json error = json::parse(response->body)["error"];
  EXPECT_EQ(error["request_id"], response->get_header_value("X-Request-Id"));
  EXPECT_THAT(error["message"].get<std::string>(), Not(HasSubstr("/var/lib")));
  // A path that decodes to invalid UTF-8 is answered in JSON, not a crash.
  auto [status, body] = Get("/%FF%FE/%C0");
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(json::accept(body)) << body;
}

TEST_F(HostileHttpTest, ErrorBodiesNameNoAddresses) {
  const std::string detector_port =
      backends_.detector_address().substr(backends_.detector_address().rfind(':') + 1);
  backends_.StopDetector();
  httplib::Result response = Client()->Post("/v1/images", TestJpeg(), "image/jpeg");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503) << response->body;
  EXPECT_THAT(response->body, HasSubstr("detector"));
  EXPECT_THAT(response->body, Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(response->body, Not(HasSubstr(":" + detector_port)));
}

}  // namespace
}  // namespace stache
