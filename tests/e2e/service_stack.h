// The whole stache suite as real processes for end-to-end and browser tests:
// stache-storage (with a temporary data directory), stache-detector,
// stache-overlay and stache-gateway, each on a free loopback port (and its
// admin port on another), started in dependency order and killed when the
// stack goes away.
//
//   e2e::ServiceStack stack(/*max_body_bytes=*/600'000);
//   ASSERT_TRUE(stack.WaitUntilReady());
//   httplib::Result response = stack.Upload(photo);
#ifndef STACHE_TESTS_E2E_SERVICE_STACK_H_
#define STACHE_TESTS_E2E_SERVICE_STACK_H_

#include <httplib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/process.h"

namespace stache::e2e {

// Starts a binary (argv[0]) with --host=127.0.0.1 appended (and
// --admin_port on a free port, unless argv names one) and waits until it
// accepts connections on `port`; a test failure names it when it does not.
std::unique_ptr<testing::ChildProcess> StartOnLoopback(
    std::vector<std::string> argv, int port,
    const std::map<std::string, std::string>& env = {});

class ServiceStack final {
 public:
  // The gateway refuses uploads over `max_body_bytes` with 413.
  // `extra_gateway_flags` are appended to the gateway's command line (e.g.
  // "--http_read_timeout=2s").
  explicit ServiceStack(int64_t max_body_bytes = 20'000'000,
                        const std::vector<std::string>& extra_gateway_flags = {});

  // True once the gateway's /readyz says every backend is serving.
  bool WaitUntilReady();

  // Kills the detector outright (SIGKILL), and starts it again on its port.
  void KillDetector();
  void StartDetector();

  std::unique_ptr<httplib::Client> Client() const;
  // Status (0 when the request failed) and body of a GET.
  std::pair<int, std::string> Get(const std::string& path,
                                  const httplib::Headers& headers = {}) const;
  // POST /v1/images with the photo in multipart field "image".
  httplib::Result Upload(const std::string& photo, const std::string& style = "",
                         const httplib::Headers& headers = {}) const;

  int gateway_port() const { return gateway_port_; }
  // The gateway's admin port: /metrics and the full /v1/info.
  int gateway_admin_port() const { return gateway_admin_port_; }
  // The backends, for tests that call them over gRPC directly.
  int storage_port() const { return storage_port_; }
  int detector_port() const { return detector_port_; }
  int overlay_port() const { return overlay_port_; }
  // True while all four processes are running.
  bool AllRunning();
  // The processes, for their memory (PeakResidentBytes) or signals.
  testing::ChildProcess& storage() { return *storage_; }
  testing::ChildProcess& detector() { return *detector_; }
  testing::ChildProcess& overlay() { return *overlay_; }
  testing::ChildProcess& gateway() { return *gateway_; }
  // "http://127.0.0.1:<gateway port>"
  std::string url() const;
  // What the gateway and the detector logged, for failure messages.
  std::string Logs() const;

 private:
  const std::string data_dir_;
  const int storage_port_;
  const int detector_port_;
  const int overlay_port_;
  const int gateway_port_;
  const int gateway_admin_port_;
  std::unique_ptr<testing::ChildProcess> storage_;
  std::unique_ptr<testing::ChildProcess> detector_;
  std::unique_ptr<testing::ChildProcess> overlay_;
  std::unique_ptr<testing::ChildProcess> gateway_;
};

}  // namespace stache::e2e

#endif  // STACHE_TESTS_E2E_SERVICE_STACK_H_
