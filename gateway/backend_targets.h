// What a backend's gRPC target names, read without gRPC: the addresses it
// resolves to (for asking every replica) and the host its certificate
// carries.
//
//   ResolveTargetAddresses("dns:///detector:50051")  // {"10.0.1.7:50051", ...}
//   TargetHost("dns:///detector:50051")              // "detector"
#ifndef STACHE_GATEWAY_BACKEND_TARGETS_H_
#define STACHE_GATEWAY_BACKEND_TARGETS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace stache::gateway {

// The "host:port" addresses a gRPC target resolves to now (DNS A/AAAA
// records), so that /v1/info can ask every replica. Accepts "host:port",
// "dns:///host:port" and "[v6]:port"; other schemes (ipv4:, unix:) come back
// as the target itself. At most `max_addresses`.
std::vector<std::string> ResolveTargetAddresses(const std::string& target,
                                                size_t max_addresses = 16);

// The host a target names, which a backend's TLS certificate carries:
// "dns:///detector:50051" and "detector:50051" -> "detector", "[::1]:1" ->
// "::1"; "" for targets that name none ("ipv4:10.0.0.1:1,...", "unix:...").
std::string TargetHost(absl::string_view target);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_BACKEND_TARGETS_H_
