// Which address a request comes from, for per-client limits: the peer's,
// or behind `trusted_proxy_hops` proxies (a load balancer is one) the
// address the outermost trusted proxy saw, read from X-Forwarded-For
// counting from the right, where each proxy appends what it saw (the entries
// to its left are whatever the client claimed). And whether an address is
// exempt from the limits: loopback, or inside a configured network. No HTTP
// types here.
//
//   std::string client = ClientAddress("10.0.0.5", {"198.51.100.7, 203.0.113.9"}, 1);
//   // "203.0.113.9"
//   STACHE_ASSIGN_OR_RETURN(IpNetworks exempt, IpNetworks::Parse({"172.16.0.0/12"}));
#ifndef STACHE_GATEWAY_CLIENT_ADDRESS_H_
#define STACHE_GATEWAY_CLIENT_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stache::gateway {

// `forwarded_for` holds every X-Forwarded-For field of the request, in
// order. With 0 hops: the peer. With N: the Nth address from the right of
// the joined list; the leftmost when there are fewer (a proxy sent none of
// its own), the peer when there is none or the entry is not an IP address.
// IPv4-mapped IPv6 addresses come back as IPv4, ports and brackets dropped.
std::string ClientAddress(absl::string_view peer,
                          const std::vector<std::string>& forwarded_for,
                          int trusted_proxy_hops);

// A set of CIDR networks (IPv4 and IPv6). Immutable; thread-safe.
class IpNetworks final {
 public:
  // "10.0.0.0/8", "fd00::/8", or a single address; INVALID_ARGUMENT naming
  // the entry that is not one.
  static absl::StatusOr<IpNetworks> Parse(const std::vector<std::string>& cidrs);

  bool Contains(absl::string_view address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};
    int prefix_bits = 0;
  };
  std::vector<Network> networks_;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_CLIENT_ADDRESS_H_
