#include "tests/e2e/service_stack.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace stache::e2e {
namespace {

using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::WaitFor;

std::string PortFlag(int port) { return absl::StrCat("--port=", port); }

std::string AddressFlag(const char* name, int port) {
  return absl::StrCat("--", name, "_address=127.0.0.1:", port);
}

}  // namespace

std::unique_ptr<ChildProcess> StartOnLoopback(
    std::vector<std::string> argv, int port,
    const std::map<std::string, std::string>& env) {
  argv.push_back("--host=127.0.0.1");
  // Each process's admin port on a free port of its own, so that stacks
  // (and other tests) running at once do not collide on the defaults.
  if (std::none_of(argv.begin(), argv.end(), [](const std::string& arg) {
        return absl::StartsWith(arg, "--admin_port=");
      })) {
    argv.push_back(absl::StrCat("--admin_port=", testing::PickUnusedPort()));
  }
  auto process = std::make_unique<ChildProcess>(argv, env);
  EXPECT_TRUE(WaitFor([&] { return PortAcceptsConnections(port); }, absl::Seconds(60)))
      << argv[0] << " did not listen on " << port << ":\n"
      << process->Output();
  return process;
}

ServiceStack::ServiceStack(int64_t max_body_bytes,
                           const std::vector<std::string>& extra_gateway_flags)
    : data_dir_(testing::MakeTempDir()),
      storage_port_(testing::PickUnusedPort()),
      detector_port_(testing::PickUnusedPort()),
      overlay_port_(testing::PickUnusedPort()),
      gateway_port_(testing::PickUnusedPort()),
      gateway_admin_port_(testing::PickUnusedPort()) {
  storage_ = StartOnLoopback({BinaryPath("stache-storage"), PortFlag(storage_port_),
                              "--data_dir=" + data_dir_ + "/storage"},
                             storage_port_);
  StartDetector();
  overlay_ = StartOnLoopback({BinaryPath("stache-overlay"), PortFlag(overlay_port_)},
                             overlay_port_);
  std::vector<std::string> gateway_argv = {
      BinaryPath("stache-gateway"),
      PortFlag(gateway_port_),
      absl::StrCat("--admin_port=", gateway_admin_port_),
      AddressFlag("detector", detector_port_),
      AddressFlag("overlay", overlay_port_),
      AddressFlag("storage", storage_port_),
      absl::StrCat("--max_body_bytes=", max_body_bytes),
      "--backend_timeout=10s",
      "--probe_timeout=2s",
      "--grace_period=5s",
      "--http_keep_alive_timeout=1s"};
  gateway_argv.insert(gateway_argv.end(), extra_gateway_flags.begin(),
                      extra_gateway_flags.end());
  gateway_ = StartOnLoopback(std::move(gateway_argv), gateway_port_);
}

bool ServiceStack::WaitUntilReady() {
  return WaitFor([&] { return Get("/readyz").first == 200; }, absl::Seconds(60));
}

void ServiceStack::StartDetector() {
  detector_ = StartOnLoopback({BinaryPath("stache-detector"), PortFlag(detector_port_)},
                              detector_port_);
}

void ServiceStack::KillDetector() {
  detector_->Signal(SIGKILL);
  detector_->Wait(absl::Seconds(10));
}

bool ServiceStack::AllRunning() {
  return storage_->Running() && detector_->Running() && overlay_->Running() &&
         gateway_->Running();
}

std::unique_ptr<httplib::Client> ServiceStack::Client() const {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", gateway_port_);
  client->set_connection_timeout(5);
  client->set_read_timeout(30);
  return client;
}

std::pair<int, std::string> ServiceStack::Get(const std::string& path,
                                              const httplib::Headers& headers) const {
  httplib::Result response = Client()->Get(path, headers);
  if (!response) return {0, ""};
  return {response->status, response->body};
}

httplib::Result ServiceStack::Upload(const std::string& photo, const std::string& style,
                                     const httplib::Headers& headers) const {
  httplib::MultipartFormDataItems items = {{"image", photo, "photo.jpg", "image/jpeg"}};
  if (!style.empty()) items.push_back({"style", style, "", ""});
  return Client()->Post("/v1/images", headers, items);
}

std::string ServiceStack::url() const {
  return absl::StrCat("http://127.0.0.1:", gateway_port_);
}

std::string ServiceStack::Logs() const {
  return absl::StrCat("--- gateway\n", gateway_->Output(), "--- detector\n",
                      detector_->Output());
}

}  // namespace stache::e2e
