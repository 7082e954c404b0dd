#include "server/tls.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/status_macros.h"

namespace stache::server {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::Status Invalid(absl::string_view flag, absl::string_view path,
                     absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": ", problem));
}

// The whole file, or INVALID_ARGUMENT naming the flag and the reason.
absl::StatusOr<std::string> ReadPemFile(absl::string_view flag, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Invalid(flag, path, absl::StrCat("cannot read (", std::strerror(errno), ")"));
  }
  std::string contents;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    contents.append(buffer, read);
    // PEM files of a few certificates are kilobytes; anything this large is
    // not one, and must not be read into memory whole.
    if (contents.size() > (1 << 20)) {
      std::fclose(file);
      return Invalid(flag, path, "larger than 1 MiB; not a PEM file");
    }
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return Invalid(flag, path, "cannot read");
  if (contents.empty()) return Invalid(flag, path, "is empty");
  return contents;
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`; INVALID_ARGUMENT when there is none or one has
// expired (a server or client would otherwise fail every handshake later,
// with a message far from its cause).
absl::StatusOr<std::vector<Certificate>> ParseCertificates(absl::string_view flag,
                                                           const std::string& path,
                                                           const std::string& pem) {
  std::vector<Certificate> certificates;
  Bio bio = MemoryBio(pem);
  while (true) {
    Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (certificate == nullptr) break;
    certificates.push_back(std::move(certificate));
  }
  ERR_clear_error();  // the end of the input is reported as an error
  if (certificates.empty()) return Invalid(flag, path, "holds no PEM certificate");
  for (const Certificate& certificate : certificates) {
    if (X509_cmp_current_time(X509_get0_notAfter(certificate.get())) < 0) {
      return Invalid(flag, path, "holds an expired certificate");
    }
  }
  return certificates;
}

absl::Status CheckKeyMatches(const TlsConfig& config, const std::string& key_pem,
                             X509* leaf) {
  Bio bio = MemoryBio(key_pem);
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return Invalid("tls_key", config.key_file,
                   "holds no PEM private key (or one protected by a passphrase)");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key ", config.key_file,
        " is not the key of the certificate in --tls_cert ", config.cert_file));
  }
  return absl::OkStatus();
}

// Reads and checks whatever of cert, key and CA the config names.
absl::StatusOr<TlsMaterial> Load(const TlsConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty()) {
    return absl::InvalidArgumentError(
        config.cert_file.empty() ? "--tls_key needs --tls_cert (the key's certificate)"
                                 : "--tls_cert needs --tls_key (the certificate's key)");
  }
  TlsMaterial tls{.require_client_cert = config.require_client_cert,
                  .server_name = config.server_name};
  if (!config.cert_file.empty()) {
    STACHE_ASSIGN_OR_RETURN(tls.cert_pem, ReadPemFile("tls_cert", config.cert_file));
    STACHE_ASSIGN_OR_RETURN(tls.key_pem, ReadPemFile("tls_key", config.key_file));
    STACHE_ASSIGN_OR_RETURN(
        std::vector<Certificate> chain,
        ParseCertificates("tls_cert", config.cert_file, tls.cert_pem));
    STACHE_RETURN_IF_ERROR(CheckKeyMatches(config, tls.key_pem, chain.front().get()));
  }
  if (!config.ca_file.empty()) {
    STACHE_ASSIGN_OR_RETURN(tls.ca_pem, ReadPemFile("tls_ca", config.ca_file));
    STACHE_RETURN_IF_ERROR(
        ParseCertificates("tls_ca", config.ca_file, tls.ca_pem).status());
  }
  return tls;
}

}  // namespace

std::string TlsMaterial::Mode() const {
  if (!enabled()) return "plaintext";
  if (require_client_cert) return "mutual tls, client certificate required";
  return !ca_pem.empty() && !cert_pem.empty() ? "mutual tls" : "tls";
}

absl::StatusOr<TlsMaterial> LoadServerTls(const TlsConfig& config) {
  if (config.require_client_cert && config.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_require_client_cert needs --tls_ca (the CA client certificates must chain "
        "to)");
  }
  if (config.cert_file.empty() && config.key_file.empty() && !config.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_ca on a server needs --tls_cert and --tls_key (the server's own "
        "certificate)");
  }
  STACHE_ASSIGN_OR_RETURN(TlsMaterial tls, Load(config));
  // Without a CA a server cannot verify client certificates: it asks for none.
  tls.require_client_cert = config.require_client_cert;
  return tls;
}

absl::StatusOr<TlsMaterial> LoadClientTls(const TlsConfig& config) {
  if (!config.server_name.empty() && config.ca_file.empty() && config.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_server_name needs --tls_ca (it names what servers' certificates are "
        "checked for)");
  }
  STACHE_ASSIGN_OR_RETURN(TlsMaterial tls, Load(config));
  tls.require_client_cert = false;  // a server setting
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsMaterial& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc_ssl_client_certificate_request_type request =
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (tls.require_client_cert) {
    request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else if (!tls.ca_pem.empty()) {
    // A certificate is optional, but one that is presented must verify.
    request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc::SslServerCredentialsOptions options(request);
  options.pem_root_certs = tls.ca_pem;
  options.pem_key_cert_pairs.push_back(
      {.private_key = tls.key_pem, .cert_chain = tls.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsMaterial& tls, grpc::ChannelArguments* args) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  if (!tls.server_name.empty()) args->SetSslTargetNameOverride(tls.server_name);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca_pem;  // empty: gRPC's default roots
  options.pem_private_key = tls.key_pem;
  options.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(options);
}

std::vector<std::string> VerifiedPeerNames(const grpc::ServerContextBase& context) {
  std::vector<std::string> names;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return names;
  // IsPeerAuthenticated also holds for other transports with a peer
  // identity; only a certificate the TLS handshake verified counts here.
  const std::vector<grpc::string_ref> transport =
      auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  if (transport.empty() || transport.front() != GRPC_SSL_TRANSPORT_SECURITY_TYPE) {
    return names;
  }
  for (const char* property : {GRPC_PEER_DNS_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
      names.emplace_back(value.data(), value.size());
    }
  }
  return names;
}

}  // namespace stache::server
