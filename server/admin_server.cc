#include "server/admin_server.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"

namespace stache::server {

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const std::string& host, int port, const MetricsRegistry* registry,
    std::vector<AdminPage> pages) {
  auto http = std::make_unique<httplib::Server>();
  for (AdminPage& page : pages) {
    http->Get(page.path, [page](const httplib::Request&, httplib::Response& response) {
      response.set_content(page.render(), page.content_type);
    });
  }
  http->Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(RenderMetricsPage(*registry), kMetricsContentType);
  });
  http->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  const int bound = port == 0 ? http->bind_to_any_port(host)
                              : (http->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port,
                     " for the admin port (--admin_port): the port is in use"));
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(http), bound));
}

AdminServer::AdminServer(std::unique_ptr<httplib::Server> http, int port)
    : http_(std::move(http)), port_(port) {
  thread_ = std::thread([this] { http_->listen_after_bind(); });
}

AdminServer::~AdminServer() {
  http_->stop();
  thread_.join();
}

}  // namespace stache::server
