// The TLS flags every gRPC server and client of stache shares (--tls_cert,
// --tls_key, --tls_ca, --tls_require_client_cert, --tls_server_name), apart
// from server/flags.h so that stache-healthcheck can read them without the
// server's other flags.
//
//   ServerConfig config = ServerConfigFromFlags(port);  // config.tls from these
//   STACHE_ASSIGN_OR_RETURN(TlsMaterial tls, ClientTlsFromFlags());  // a client
#ifndef STACHE_SERVER_TLS_FLAGS_H_
#define STACHE_SERVER_TLS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/tls.h"

ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(bool, tls_require_client_cert);
ABSL_DECLARE_FLAG(std::string, tls_server_name);

namespace stache::server {

// True for the names of the flags above.
bool IsTlsFlag(absl::string_view flag_name);

// The flags above, as they are (nothing read from disk).
TlsConfig TlsConfigFromFlags();

// LoadClientTls(TlsConfigFromFlags()): what a client (the gateway, the
// health probe) passes to MakeChannel.
absl::StatusOr<TlsMaterial> ClientTlsFromFlags();

}  // namespace stache::server

#endif  // STACHE_SERVER_TLS_FLAGS_H_
