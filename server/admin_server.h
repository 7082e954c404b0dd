// A small HTTP server beside each gRPC server for operators: Prometheus
// metrics (the service's registry plus process CPU, memory and open file
// descriptors) at /metrics, /healthz, and any pages of the service's own
// (the gateway's /v1/info with its backends' addresses). Listens on
// --admin_port (gateway 9090, detector 9091, overlay 9092, storage 9093; -1
// turns it off).
//
//   STACHE_ASSIGN_OR_RETURN(auto admin, AdminServer::Start("0.0.0.0", 9091, &registry));
#ifndef STACHE_SERVER_ADMIN_SERVER_H_
#define STACHE_SERVER_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace httplib {
class Server;
}

namespace stache::server {

// A GET page of a service's own, rendered on each request.
struct AdminPage {
  std::string path;
  std::string content_type;
  std::function<std::string()> render;
};

// Owns the HTTP server and its thread; stops on destruction. `registry` must
// outlive it.
class AdminServer final {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(
      const std::string& host, int port, const MetricsRegistry* registry,
      std::vector<AdminPage> pages = {});
  ~AdminServer();

  int port() const { return port_; }

 private:
  AdminServer(std::unique_ptr<httplib::Server> http, int port);

  std::unique_ptr<httplib::Server> http_;
  const int port_;
  std::thread thread_;
};

}  // namespace stache::server

#endif  // STACHE_SERVER_ADMIN_SERVER_H_
