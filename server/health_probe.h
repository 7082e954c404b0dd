// Health probes for container HEALTHCHECKs and readiness checks: one gRPC
// grpc.health.v1 Check, or one HTTP GET, with a deadline. Lets images check
// themselves with the project's own binary instead of curl.
//
//   absl::Status status = CheckGrpcHealth("127.0.0.1:50051", "", absl::Seconds(2), tls);
//   absl::Status status = CheckHttpHealth("127.0.0.1", 8000, "/healthz",
//   absl::Seconds(2));
#ifndef STACHE_SERVER_HEALTH_PROBE_H_
#define STACHE_SERVER_HEALTH_PROBE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/tls.h"

namespace stache::server {

// OK when the server at `target` reports SERVING for `service` ("" = the
// whole server); UNAVAILABLE with the reason otherwise. Over TLS when `tls`
// is set (a TLS server refuses plaintext probes).
absl::Status CheckGrpcHealth(const std::string& target, const std::string& service,
                             absl::Duration timeout, const TlsMaterial& tls = {});

// OK when GET http://host:port/path answers 2xx.
absl::Status CheckHttpHealth(const std::string& host, int port, const std::string& path,
                             absl::Duration timeout);

}  // namespace stache::server

#endif  // STACHE_SERVER_HEALTH_PROBE_H_
