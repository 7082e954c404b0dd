// Certificates for TLS tests, made by scripts/dev-certs.sh into a fresh temp
// dir (never checked in). Two calls give two unrelated CAs.
//
//   absl::StatusOr<DevCerts> certs = MakeDevCerts({"storage", "gateway"});
//   TlsConfig server{.cert_file = certs->Cert("storage"), .key_file =
//   certs->Key("storage"),
//                    .ca_file = certs->ca(), .require_client_cert = true};
#ifndef STACHE_SERVER_TESTING_DEV_CERTS_H_
#define STACHE_SERVER_TESTING_DEV_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stache::server::testing {

struct DevCerts {
  std::string dir;

  std::string ca() const { return dir + "/ca.crt"; }
  std::string Cert(const std::string& service) const {
    return dir + "/" + service + ".crt";
  }
  std::string Key(const std::string& service) const {
    return dir + "/" + service + ".key";
  }
};

// Runs scripts/dev-certs.sh for `services` (its default set when empty);
// the error carries the script's output.
absl::StatusOr<DevCerts> MakeDevCerts(const std::vector<std::string>& services = {});

// The script's path, for tests that run it themselves.
std::string DevCertsScript();

}  // namespace stache::server::testing

#endif  // STACHE_SERVER_TESTING_DEV_CERTS_H_
