#include "gateway/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/internal/sha256.h"

namespace stache::gateway {
namespace {

constexpr size_t kOwnerIdBytes = 16;
constexpr size_t kMacBytes = 32;
// Domain separation: a MAC made for a session is good for nothing else.
constexpr absl::string_view kMacContext = "stache-session-v1.";
constexpr absl::Duration kClockSkew = absl::Minutes(1);

using Mac = std::array<uint8_t, kMacBytes>;

Mac ComputeMac(const std::string& key, absl::string_view payload) {
  const std::string message = absl::StrCat(kMacContext, payload);
  Mac mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
       &length);
  return mac;
}

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) || absl::ascii_isupper(c)) {
      return false;
    }
  }
  return true;
}

absl::Status Rejected(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("the session cookie ", why));
}

}  // namespace

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> random(bytes);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    // Without randomness no id or token is safe to hand out; OpenSSL's
    // generator failing means the system is broken, not a request.
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

std::string OwnerDigest(absl::string_view owner_id) {
  return storage::internal::Sha256Hex(absl::StrCat("stache-owner.", owner_id));
}

absl::StatusOr<std::vector<std::string>> ParseSessionKeys(absl::string_view text,
                                                          absl::string_view source) {
  std::vector<std::string> keys;
  for (absl::string_view key : absl::StrSplit(text, absl::ByAnyChar(",\n"))) {
    key = absl::StripAsciiWhitespace(key);
    if (key.empty()) continue;
    if (key.size() < kMinSessionKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("session key ", keys.size() + 1, " of ", source, " is ",
                       key.size(), " bytes; each must be at least ", kMinSessionKeyBytes,
                       " (e.g. `openssl rand -hex 32`)"));
    }
    keys.emplace_back(key);
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " holds no session key"));
  }
  return keys;
}

absl::StatusOr<SessionSigner> SessionSigner::Create(std::vector<std::string> keys,
                                                    absl::Duration max_age) {
  if (keys.empty()) return absl::InvalidArgumentError("no session signing key");
  for (const std::string& key : keys) {
    if (key.size() < kMinSessionKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("a session key is shorter than ", kMinSessionKeyBytes, " bytes"));
    }
  }
  if (max_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the session lifetime must be positive");
  }
  return SessionSigner(std::move(keys), max_age);
}

SessionSigner SessionSigner::WithRandomKey(absl::Duration max_age) {
  return SessionSigner({RandomHex(32)}, max_age);
}

Session SessionSigner::NewSession(absl::Time now) const {
  return Session{.owner_id = RandomHex(kOwnerIdBytes),
                 .issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now))};
}

std::string SessionSigner::Sign(const Session& session) const {
  const std::string payload =
      absl::StrCat(session.owner_id, ".", absl::ToUnixSeconds(session.issued_at));
  const Mac mac = ComputeMac(keys_.front(), payload);
  return absl::StrCat(payload, ".",
                      absl::WebSafeBase64Escape(absl::string_view(
                          reinterpret_cast<const char*>(mac.data()), mac.size())));
}

absl::StatusOr<Session> SessionSigner::Verify(absl::string_view value,
                                              absl::Time now) const {
  std::vector<absl::string_view> parts = absl::StrSplit(value, '.');
  if (parts.size() != 3) return Rejected("is malformed");
  const absl::string_view owner = parts[0];
  int64_t issued_seconds = 0;
  std::string mac;
  if (owner.size() != 2 * kOwnerIdBytes || !IsLowerHex(owner) ||
      !absl::SimpleAtoi(parts[1], &issued_seconds) ||
      !absl::WebSafeBase64Unescape(parts[2], &mac) || mac.size() != kMacBytes ||
      // Only the canonical encoding: no second spelling of one MAC.
      absl::WebSafeBase64Escape(mac) != parts[2]) {
    return Rejected("is malformed");
  }
  const absl::string_view payload = value.substr(0, owner.size() + 1 + parts[1].size());
  int matched = -1;
  // Every key is tried, without an early exit, and compared in constant
  // time: the time taken says nothing about the MAC or which key matched.
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Mac expected = ComputeMac(keys_[i], payload);
    if (CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) == 0 && matched < 0) {
      matched = static_cast<int>(i);
    }
  }
  if (matched < 0) return Rejected("is not signed by this gateway");
  const absl::Time issued_at = absl::FromUnixSeconds(issued_seconds);
  if (issued_at > now + kClockSkew) return Rejected("was issued in the future");
  if (now - issued_at > max_age_) return Rejected("has expired");
  return Session{.owner_id = std::string(owner),
                 .issued_at = issued_at,
                 .signed_with_old_key = matched > 0};
}

bool SessionSigner::ShouldReissue(const Session& session, absl::Time now) const {
  return session.signed_with_old_key || now - session.issued_at > max_age_ / 2;
}

}  // namespace stache::gateway
