// Who may read and write which namespaces: callers, known by a bearer token
// or by the name in their verified TLS client certificate, mapped to their
// namespaces, loaded from JSON (a file or an environment variable; never a
// flag, which `ps` would show).
//
//   STACHE_ASSIGN_OR_RETURN(NamespacePolicy policy, NamespacePolicy::FromFile(path));
//   STACHE_RETURN_IF_ERROR(policy.Check("Bearer s3cr3t...", "gateway", Access::kWrite));
//
// Format:
//   {"callers": [
//     {"name": "gateway", "token": "<at least 16 characters>",
//      "client_cert": "gateway",
//      "read": ["gateway"], "write": ["gateway"]},
//     {"name": "audit", "token_sha256": "<hex SHA-256 of the token>",
//      "read": ["gateway"]}]}
// "read" grants Get, Stat and List; "write" grants Put and Delete. A policy
// file may hold "token_sha256" instead of "token" so that it never contains
// the secret itself. "client_cert" names a certificate identity (a SAN DNS
// name or the subject CN) that authenticates the caller without a token,
// when the server verified that certificate (mutual TLS); a caller needs a
// token, a client_cert, or both.
#ifndef STACHE_STORAGE_NAMESPACE_POLICY_H_
#define STACHE_STORAGE_NAMESPACE_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/development_token.h"

namespace stache::storage {

// The development default (storage/development_token.h) is used only when no
// policy is configured, and logged as such.
inline constexpr size_t kMinTokenBytes = 16;

enum class Access { kRead, kWrite };

struct Caller {
  std::string name;  // for logs; not a secret
  std::set<std::string> readable;
  std::set<std::string> writable;
};

// Immutable after construction, so thread-safe.
class NamespacePolicy final {
 public:
  // INVALID_ARGUMENT naming the problem (unknown field, short or duplicate
  // token, bad namespace, ...).
  static absl::StatusOr<NamespacePolicy> FromJson(absl::string_view json);
  static absl::StatusOr<NamespacePolicy> FromFile(const std::string& path);
  // kDevelopmentToken may read and write kDevelopmentNamespace.
  static NamespacePolicy DevelopmentDefault();

  // `authorization` is the "authorization" request metadata, "Bearer
  // <token>"; `verified_peer_names` the names of the client certificate the
  // TLS handshake verified (server::VerifiedPeerNames; empty when there is
  // none or the server does not require one). A token, when sent, decides:
  // UNAUTHENTICATED when it is malformed or unknown. Without one, the first
  // caller whose "client_cert" is among the names; UNAUTHENTICATED when
  // none is. Compares token digests in constant time and always checks
  // every caller.
  absl::StatusOr<const Caller*> Authenticate(
      absl::string_view authorization,
      const std::vector<std::string>& verified_peer_names = {}) const;
  // PERMISSION_DENIED unless `caller` is granted `access` to `ns`.
  static absl::Status Authorize(const Caller& caller, absl::string_view ns,
                                Access access);
  // Authenticate, then Authorize.
  absl::Status Check(absl::string_view authorization, absl::string_view ns, Access access,
                     const std::vector<std::string>& verified_peer_names = {}) const;

  size_t caller_count() const { return entries_.size(); }
  // Whether some caller is known by a client certificate (the server must
  // then verify client certificates for them to be usable).
  bool names_client_certs() const;

 private:
  struct Entry {
    std::optional<std::array<uint8_t, 32>> token_sha256;
    std::string client_cert;  // empty: known by token only
    Caller caller;
  };
  NamespacePolicy() = default;

  std::vector<Entry> entries_;
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_NAMESPACE_POLICY_H_
