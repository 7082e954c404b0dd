// A small HTTP server beside each gRPC server for operators: Prometheus
// metrics (the service's registry plus process CPU, memory and open file
// descriptors) at /metrics, and /healthz. Listens on --admin_port
// (detector 9091, overlay 9092, storage 9093; -1 turns it off).
//
//   STACHE_ASSIGN_OR_RETURN(auto admin, AdminServer::Start("0.0.0.0", 9091, &registry));
#ifndef STACHE_SERVER_ADMIN_SERVER_H_
#define STACHE_SERVER_ADMIN_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace httplib {
class Server;
}

namespace stache::server {

// Owns the HTTP server and its thread; stops on destruction. `registry` must
// outlive it.
class AdminServer final {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& host,
                                                            int port,
                                                            const MetricsRegistry* registry);
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
