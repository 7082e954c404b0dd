#include "gateway/gateway_server.h"

#include <httplib.h>
#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/grpc_server.h"
#include "server/log.h"

namespace stache::gateway {

absl::Status ValidateGatewayConfig(const GatewayConfig& config) {
  if (config.port < 0 || config.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--port %d is not a TCP port (0..65535)", config.port));
  }
  if (config.max_body_bytes <= 0) {
    return absl::InvalidArgumentError("--max_body_bytes must be positive");
  }
  return absl::OkStatus();
}

absl::Status RunGatewayServer(const GatewayConfig& config) {
  if (absl::Status status = ValidateGatewayConfig(config); !status.ok()) {
    return status;
  }
  server::BlockTerminationSignals();
  httplib::Server http;
  // TODO(#6): the REST API and the web page.
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  if (!http.bind_to_port(config.host, config.port)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config.host, ":", config.port,
        ": the port is in use or the address is not local"));
  }
  server::LogInfo("serving", {{"address", config.host}, {"port", config.port}});
  std::thread listener([&http] { http.listen_after_bind(); });

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server::LogInfo("shutting down", {{"signal", strsignal(signal_number)}});
  http.stop();
  listener.join();
  server::LogInfo("stopped");
  return absl::OkStatus();
}

}  // namespace stache::gateway
