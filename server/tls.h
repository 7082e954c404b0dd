// TLS for gRPC between stache services: the PEM files a server or client
// was given (--tls_cert, --tls_key, --tls_ca, --tls_require_client_cert,
// --tls_server_name), read and checked once at startup, and the gRPC
// credentials made from them. No TLS settings: plaintext, as before.
//
//   STACHE_ASSIGN_OR_RETURN(TlsMaterial tls, LoadClientTls(TlsConfigFromFlags()));
//   auto channel = MakeChannel("dns:///storage:50053", max_image_bytes, tls);
#ifndef STACHE_SERVER_TLS_H_
#define STACHE_SERVER_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stache::server {

// Where the PEM files are (paths, not contents) and how peers are checked.
// The same settings serve a server (its certificate; the CA its clients'
// certificates must chain to) and a client (the CA servers must chain to;
// its own certificate when servers ask for one).
struct TlsConfig {
  std::string cert_file;  // --tls_cert: certificate chain, leaf first
  std::string key_file;   // --tls_key: the certificate's private key
  std::string ca_file;    // --tls_ca: CA certificate(s) peers must chain to
  // Server: refuse clients without a certificate from --tls_ca.
  bool require_client_cert = false;
  // Client: the name servers' certificates must carry, instead of the host
  // of the target (for targets such as "ipv4:a:p,b:p" that name no host).
  std::string server_name;
};

// The files of a TlsConfig, read and checked. Empty: plaintext.
struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  bool require_client_cert = false;
  std::string server_name;

  bool enabled() const { return !cert_pem.empty() || !ca_pem.empty(); }
  // "plaintext", "tls" or "mutual tls", for logs.
  std::string Mode() const;
};

// For a server: nothing set is plaintext; otherwise --tls_cert and --tls_key
// are needed, --tls_ca verifies client certificates that are presented, and
// --tls_require_client_cert (which needs --tls_ca) refuses clients without
// one. INVALID_ARGUMENT naming the flag (and the file, never its contents)
// when a file is missing, unreadable, not PEM, expired, or the key does not
// match the certificate.
absl::StatusOr<TlsMaterial> LoadServerTls(const TlsConfig& config);

// For a client: nothing set is plaintext; --tls_ca (or --tls_cert and
// --tls_key, then gRPC's default roots verify servers) turns TLS on;
// --tls_cert and --tls_key go together. --tls_require_client_cert is a
// server setting and ignored here. Same errors as LoadServerTls.
absl::StatusOr<TlsMaterial> LoadClientTls(const TlsConfig& config);

// Credentials for a listening port: insecure when `tls` is empty; otherwise
// TLS only (a plaintext client fails its handshake), verifying client
// certificates against the CA when there is one.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsMaterial& tls);

// Credentials for a channel: insecure when `tls` is empty; otherwise TLS
// that verifies the server against the CA (and its name, see server_name),
// presenting the client certificate when there is one. Also sets the
// target name override on `args` when tls.server_name is set.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsMaterial& tls, grpc::ChannelArguments* args);

// The names of the calling peer's client certificate (its SAN DNS names,
// then its subject CN) when the TLS handshake verified it; empty for
// plaintext calls and calls without a verified certificate.
std::vector<std::string> VerifiedPeerNames(const grpc::ServerContextBase& context);

}  // namespace stache::server

#endif  // STACHE_SERVER_TLS_H_
