#include "gateway/backend_targets.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace stache::gateway {

std::vector<std::string> ResolveTargetAddresses(const std::string& target,
                                                size_t max_addresses) {
  absl::string_view rest = target;
  if (!absl::ConsumePrefix(&rest, "dns:///") && absl::StrContains(rest, ":/")) {
    return {target};  // another resolver scheme: ask the target as a whole
  }
  if (absl::StartsWith(rest, "ipv4:") || absl::StartsWith(rest, "ipv6:") ||
      absl::StartsWith(rest, "unix:")) {
    return {target};
  }
  std::string host;
  std::string port;
  if (absl::ConsumePrefix(&rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos || rest.substr(close + 1, 1) != ":")
      return {target};
    host = std::string(rest.substr(0, close));
    port = std::string(rest.substr(close + 2));
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return {target};
    host = std::string(rest.substr(0, colon));
    port = std::string(rest.substr(colon + 1));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &results) != 0) return {target};
  std::vector<std::string> addresses;
  for (addrinfo* entry = results; entry != nullptr && addresses.size() < max_addresses;
       entry = entry->ai_next) {
    char ip[NI_MAXHOST] = {};
    if (getnameinfo(entry->ai_addr, entry->ai_addrlen, ip, sizeof(ip), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    std::string address = entry->ai_family == AF_INET6 ? absl::StrCat("[", ip, "]:", port)
                                                       : absl::StrCat(ip, ":", port);
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(std::move(address));
    }
  }
  freeaddrinfo(results);
  if (addresses.empty()) return {target};
  return addresses;
}

std::string TargetHost(absl::string_view target) {
  if (!absl::ConsumePrefix(&target, "dns:///") && absl::StrContains(target, ":/"))
    return "";
  if (absl::StartsWith(target, "ipv4:") || absl::StartsWith(target, "ipv6:") ||
      absl::StartsWith(target, "unix:")) {
    return "";
  }
  if (absl::ConsumePrefix(&target, "["))
    return std::string(target.substr(0, target.find(']')));
  return std::string(target.substr(0, target.rfind(':')));
}

}  // namespace stache::gateway
