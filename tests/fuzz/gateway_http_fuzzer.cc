// libFuzzer target: the gateway's HTTP adapter end to end, in process. Each
// input is the raw bytes a client sends on one connection: request line,
// headers, (multipart) body, possibly several pipelined requests. They go to
// a real stache::gateway::Gateway on a loopback port, in front of the fake
// backends (gateway/testing/fake_backends.h), so the input passes through
// the Beast transport's request reader and its limits (head sizes, field
// counts, encodings, deadlines; gateway/internal/http_transport.cc), the
// upload checks and the streaming multipart parser (also fuzzed alone,
// faster, by upload_body_fuzzer), the image header guard, and the
// translation of style, format, ids, page_size and page_token into the
// Detect, Apply and storage requests. ASan watches every thread.
//
// A crash, an abort or a response that is not HTTP fails the run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "gateway/gateway_process.h"
#include "gateway/testing/fake_backends.h"

namespace {

using ::stache::gateway::Gateway;
using ::stache::gateway::testing::FakeBackends;

struct Target {
  FakeBackends backends;
  std::unique_ptr<Gateway> gateway;

  Target() {
    stache::gateway::GatewayConfig config = backends.GatewayConfigForTest();
    config.http.max_body_bytes = 64 * 1024;
    config.http.read_timeout = absl::Seconds(2);
    config.http.write_timeout = absl::Seconds(2);
    config.http.keep_alive_timeout = absl::Seconds(2);
    absl::StatusOr<std::unique_ptr<Gateway>> started = Gateway::Start(config);
    if (!started.ok()) {
      std::fprintf(stderr, "gateway did not start: %s\n",
                   started.status().ToString().c_str());
      std::abort();
    }
    gateway = std::move(*started);
  }
};

Target& TheTarget() {
  static Target* target = new Target();  // lives until exit, like the fuzzer
  return *target;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "gateway_http_fuzzer: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// connect(), finished when a signal interrupts it: libFuzzer's SIGALRM
// (its -timeout watchdog, installed without SA_RESTART) arrives now and
// then in the middle of a call, and the connection goes on being made.
void ConnectToLoopback(int fd, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return;
  if (errno != EINTR) Fail("connect");
  pollfd writable{fd, POLLOUT, 0};
  while (poll(&writable, 1, 10'000) < 0) {
    if (errno != EINTR) Fail("poll");
  }
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) Fail("getsockopt");
  if (error != 0) {
    errno = error;
    Fail("connect");
  }
}

// Sends `data`, half-closes, and returns what came back until the gateway
// closed (bounded by a deadline well above its read timeout).
std::string Exchange(int port, const uint8_t* data, size_t size) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Fail("socket");
  ConnectToLoopback(fd, port);
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the gateway stopped reading (e.g. after a 413)
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string received;
  char buffer[4096];
  for (int waited_ms = 0; waited_ms < 10'000;) {
    pollfd readable{fd, POLLIN, 0};
    const int ready = poll(&readable, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      waited_ms += 100;
      continue;
    }
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return received;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheTarget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string answer = Exchange(TheTarget().gateway->port(), data, size);
  // Whatever was sent, anything the gateway answers is HTTP.
  if (!answer.empty() && answer.rfind("HTTP/1.1 ", 0) != 0) {
    std::fprintf(stderr, "not an HTTP response: %.200s\n", answer.c_str());
    std::abort();
  }
  return 0;
}
