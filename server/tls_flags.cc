#include "server/tls_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain, leaf first) of this process. A server with "
          "--tls_cert and --tls_key speaks only TLS; a client presents it when the "
          "server asks for a certificate.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s). A client verifies servers against it (and then "
          "speaks only TLS); a server verifies the client certificates presented.");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "Server: refuse clients without a certificate from --tls_ca (mutual TLS).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Client: the name servers' certificates must carry, instead of the host "
          "named in the target (needed only for targets that name no host).");

namespace stache::server {

bool IsTlsFlag(absl::string_view flag_name) {
  return flag_name == "tls_cert" || flag_name == "tls_key" || flag_name == "tls_ca" ||
         flag_name == "tls_require_client_cert" || flag_name == "tls_server_name";
}

TlsConfig TlsConfigFromFlags() {
  return {.cert_file = absl::GetFlag(FLAGS_tls_cert),
          .key_file = absl::GetFlag(FLAGS_tls_key),
          .ca_file = absl::GetFlag(FLAGS_tls_ca),
          .require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert),
          .server_name = absl::GetFlag(FLAGS_tls_server_name)};
}

absl::StatusOr<TlsMaterial> ClientTlsFromFlags() {
  return LoadClientTls(TlsConfigFromFlags());
}

}  // namespace stache::server
