#include "storage/namespace_policy.h"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/status_macros.h"
#include "storage/internal/sha256.h"
#include "storage/object_key.h"

namespace stache::storage {
namespace {

std::array<uint8_t, 32> TokenDigest(absl::string_view token) {
  internal::Sha256 hash;
  hash.Update(token);
  return hash.Digest();
}

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("auth policy: ", message));
}

// Tokens travel in an HTTP/2 header: printable ASCII without spaces.
bool IsTokenText(absl::string_view token) {
  for (char c : token) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::StatusOr<std::set<std::string>> ParseNamespaces(const nlohmann::json& caller,
                                                      const char* field,
                                                      absl::string_view name) {
  std::set<std::string> namespaces;
  if (!caller.contains(field)) return namespaces;
  const nlohmann::json& list = caller.at(field);
  if (!list.is_array()) {
    return Invalid(
        absl::StrCat("\"", field, "\" of caller \"", name, "\" must be a list"));
  }
  for (const nlohmann::json& item : list) {
    if (!item.is_string()) {
      return Invalid(absl::StrCat("\"", field, "\" of caller \"", name,
                                  "\" must list namespace names"));
    }
    const std::string ns = item.get<std::string>();
    if (absl::Status status = ValidateNamespace(ns); !status.ok()) {
      return Invalid(absl::StrCat("caller \"", name, "\": ", status.message()));
    }
    namespaces.insert(ns);
  }
  return namespaces;
}

}  // namespace

absl::StatusOr<NamespacePolicy> NamespacePolicy::FromJson(absl::string_view json) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& error) {
    return Invalid(absl::StrCat("not JSON: ", error.what()));
  }
  if (!document.is_object() || !document.contains("callers") ||
      !document["callers"].is_array() || document.size() != 1) {
    return Invalid("expected {\"callers\": [...]}");
  }
  NamespacePolicy policy;
  for (const nlohmann::json& caller : document["callers"]) {
    if (!caller.is_object()) return Invalid("each caller must be an object");
    for (const auto& [field, value] : caller.items()) {
      if (field != "name" && field != "token" && field != "token_sha256" &&
          field != "client_cert" && field != "read" && field != "write") {
        return Invalid(absl::StrCat(
            "unknown field \"", field,
            "\" (expected name, token or token_sha256, client_cert, read, write)"));
      }
    }
    if (!caller.contains("name") || !caller["name"].is_string() ||
        caller["name"].get<std::string>().empty()) {
      return Invalid("each caller needs a \"name\"");
    }
    Entry entry;
    entry.caller.name = caller["name"].get<std::string>();
    const std::string& name = entry.caller.name;
    const bool has_token = caller.contains("token");
    const bool has_digest = caller.contains("token_sha256");
    const bool has_cert = caller.contains("client_cert");
    if (has_token && has_digest) {
      return Invalid(
          absl::StrCat("caller \"", name,
                       "\" needs exactly one of \"token\" and \"token_sha256\", "
                       "not both"));
    }
    if (!has_token && !has_digest && !has_cert) {
      return Invalid(absl::StrCat("caller \"", name,
                                  "\" needs a credential: exactly one of \"token\" and "
                                  "\"token_sha256\", or a \"client_cert\", or both"));
    }
    if (has_token) {
      if (!caller["token"].is_string()) {
        return Invalid(absl::StrCat("token of caller \"", name, "\" must be a string"));
      }
      const std::string token = caller["token"].get<std::string>();
      if (token.size() < kMinTokenBytes || !IsTokenText(token)) {
        return Invalid(absl::StrCat("token of caller \"", name, "\" must be at least ",
                                    kMinTokenBytes,
                                    " printable characters without spaces"));
      }
      entry.token_sha256 = TokenDigest(token);
    } else if (has_digest) {
      std::string hex = caller["token_sha256"].is_string()
                            ? caller["token_sha256"].get<std::string>()
                            : "";
      absl::AsciiStrToLower(&hex);
      if (!internal::IsSha256Hex(hex)) {
        return Invalid(
            absl::StrCat("token_sha256 of caller \"", name, "\" must be 64 hex digits"));
      }
      const std::string bytes = absl::HexStringToBytes(hex);
      entry.token_sha256.emplace();
      std::copy(bytes.begin(), bytes.end(), entry.token_sha256->begin());
    }
    if (has_cert) {
      // A certificate name (DNS name or CN) as the policy's author wrote it;
      // it is compared exactly, so it must not be empty or padded.
      if (!caller["client_cert"].is_string() ||
          caller["client_cert"].get<std::string>().empty() ||
          !IsTokenText(caller["client_cert"].get<std::string>())) {
        return Invalid(absl::StrCat("client_cert of caller \"", name,
                                    "\" must be a certificate name such as \"gateway\""));
      }
      entry.client_cert = caller["client_cert"].get<std::string>();
    }
    STACHE_ASSIGN_OR_RETURN(entry.caller.readable, ParseNamespaces(caller, "read", name));
    STACHE_ASSIGN_OR_RETURN(entry.caller.writable,
                            ParseNamespaces(caller, "write", name));
    for (const Entry& other : policy.entries_) {
      if (entry.token_sha256.has_value() && other.token_sha256 == entry.token_sha256) {
        return Invalid(absl::StrCat("callers \"", other.caller.name, "\" and \"", name,
                                    "\" have the same token"));
      }
      if (!entry.client_cert.empty() && other.client_cert == entry.client_cert) {
        return Invalid(absl::StrCat("callers \"", other.caller.name, "\" and \"", name,
                                    "\" have the same client_cert"));
      }
    }
    policy.entries_.push_back(std::move(entry));
  }
  if (policy.entries_.empty()) return Invalid("no callers: nobody could use the service");
  return policy;
}

absl::StatusOr<NamespacePolicy> NamespacePolicy::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read auth policy file ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (absl::StripAsciiWhitespace(contents.str()).empty()) {
    // Not "no policy": a secret that did not arrive must not fall back.
    return absl::InvalidArgumentError(
        absl::StrCat("auth policy file ", path, " is empty"));
  }
  absl::StatusOr<NamespacePolicy> policy = FromJson(contents.str());
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

NamespacePolicy NamespacePolicy::DevelopmentDefault() {
  NamespacePolicy policy;
  policy.entries_.push_back({.token_sha256 = TokenDigest(kDevelopmentToken),
                             .client_cert = {},
                             .caller = {.name = "development-default",
                                        .readable = {kDevelopmentNamespace},
                                        .writable = {kDevelopmentNamespace}}});
  return policy;
}

bool NamespacePolicy::names_client_certs() const {
  for (const Entry& entry : entries_) {
    if (!entry.client_cert.empty()) return true;
  }
  return false;
}

absl::StatusOr<const Caller*> NamespacePolicy::Authenticate(
    absl::string_view authorization,
    const std::vector<std::string>& verified_peer_names) const {
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.empty()) {
    if (verified_peer_names.empty()) {
      return absl::UnauthenticatedError(
          "missing credentials: send \"authorization: Bearer <token>\" metadata");
    }
    // Certificate names are not secrets (the peer showed them, and the
    // handshake proved it holds the key), so a plain comparison will do.
    for (const Entry& entry : entries_) {
      if (entry.client_cert.empty()) continue;
      for (const std::string& peer_name : verified_peer_names) {
        if (peer_name == entry.client_cert) return &entry.caller;
      }
    }
    return absl::UnauthenticatedError(
        "no caller of the auth policy has this client certificate; send "
        "\"authorization: Bearer <token>\" metadata");
  }
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization metadata must be \"Bearer <token>\"");
  }
  const absl::string_view token =
      absl::StripAsciiWhitespace(authorization.substr(kScheme.size()));
  const std::array<uint8_t, 32> digest = TokenDigest(token);
  const Caller* match = nullptr;
  // No early exit: the time taken does not depend on which caller matches.
  for (const Entry& entry : entries_) {
    if (!entry.token_sha256.has_value()) continue;
    const bool equal =
        CRYPTO_memcmp(entry.token_sha256->data(), digest.data(), digest.size()) == 0;
    if (equal) match = &entry.caller;
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown token");
  return match;
}

absl::Status NamespacePolicy::Authorize(const Caller& caller, absl::string_view ns,
                                        Access access) {
  const std::set<std::string>& granted =
      access == Access::kRead ? caller.readable : caller.writable;
  if (granted.count(std::string(ns)) > 0) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "caller \"", caller.name, "\" may not ", access == Access::kRead ? "read" : "write",
      " namespace \"", ns, "\""));
}

absl::Status NamespacePolicy::Check(
    absl::string_view authorization, absl::string_view ns, Access access,
    const std::vector<std::string>& verified_peer_names) const {
  STACHE_ASSIGN_OR_RETURN(const Caller* caller,
                          Authenticate(authorization, verified_peer_names));
  return Authorize(*caller, ns, access);
}

}  // namespace stache::storage
