#include "gateway/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace stache::gateway {
namespace {

struct ParsedAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

// An IP address, possibly "[v6]", "[v6]:port" or "v4:port"; IPv4-mapped
// IPv6 becomes IPv4.
std::optional<ParsedAddress> ParseAddress(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (absl::ConsumePrefix(&text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return std::nullopt;
    text = text.substr(0, close);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));  // v4:port
  }
  const std::string address(text);
  ParsedAddress parsed;
  if (inet_pton(AF_INET, address.c_str(), parsed.bytes.data()) == 1) return parsed;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(parsed.bytes.data(), &v6.s6_addr[12], 4);
    return parsed;
  }
  parsed.v6 = true;
  std::memcpy(parsed.bytes.data(), v6.s6_addr, 16);
  return parsed;
}

std::string FormatAddress(const ParsedAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof(text));
  return text;
}

}  // namespace

std::string ClientAddress(absl::string_view peer,
                          const std::vector<std::string>& forwarded_for,
                          int trusted_proxy_hops) {
  const std::optional<ParsedAddress> parsed_peer = ParseAddress(peer);
  const std::string peer_address =
      parsed_peer ? FormatAddress(*parsed_peer) : std::string(peer);
  if (trusted_proxy_hops <= 0) return peer_address;
  std::vector<absl::string_view> entries;
  for (const std::string& field : forwarded_for) {
    for (absl::string_view entry : absl::StrSplit(field, ',', absl::SkipWhitespace())) {
      entries.push_back(entry);
    }
  }
  if (entries.empty()) return peer_address;
  const size_t hops = static_cast<size_t>(trusted_proxy_hops);
  const absl::string_view chosen =
      entries.size() >= hops ? entries[entries.size() - hops] : entries.front();
  const std::optional<ParsedAddress> address = ParseAddress(chosen);
  return address ? FormatAddress(*address) : peer_address;
}

absl::StatusOr<IpNetworks> IpNetworks::Parse(const std::vector<std::string>& cidrs) {
  IpNetworks networks;
  for (const std::string& cidr : cidrs) {
    const absl::string_view entry = absl::StripAsciiWhitespace(cidr);
    if (entry.empty()) continue;
    const size_t slash = entry.find('/');
    const std::optional<ParsedAddress> address = ParseAddress(entry.substr(0, slash));
    const int max_bits = address && address->v6 ? 128 : 32;
    int bits = max_bits;
    if (!address || entry.substr(0, slash).find(']') != absl::string_view::npos ||
        (slash != absl::string_view::npos &&
         (!absl::SimpleAtoi(entry.substr(slash + 1), &bits) || bits < 0 ||
          bits > max_bits))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rate_limit_exempt_cidrs: '", entry,
                       "' is not a network like 10.0.0.0/8 or fd00::/8"));
    }
    networks.networks_.push_back(
        Network{.v6 = address->v6, .bytes = address->bytes, .prefix_bits = bits});
  }
  return networks;
}

bool IpNetworks::Contains(absl::string_view text) const {
  const std::optional<ParsedAddress> address = ParseAddress(text);
  if (!address) return false;
  for (const Network& network : networks_) {
    if (network.v6 != address->v6) continue;
    const int whole_bytes = network.prefix_bits / 8;
    const int rest_bits = network.prefix_bits % 8;
    if (std::memcmp(network.bytes.data(), address->bytes.data(), whole_bytes) != 0)
      continue;
    if (rest_bits != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest_bits));
      if ((network.bytes[whole_bytes] & mask) != (address->bytes[whole_bytes] & mask))
        continue;
    }
    return true;
  }
  return false;
}

}  // namespace stache::gateway
