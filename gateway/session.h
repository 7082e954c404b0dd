// Who a browser is, without server-side state: a session is a random owner
// id (128 bits) and its issue time, signed with HMAC-SHA256 into a cookie
// value. The first key of the ring signs; every key verifies, so a key is
// rotated by putting a new one first and removing the old one once the
// sessions it signed have been re-signed (each is, at its next request) or
// have expired. No HTTP here: the routes turn values into cookies.
//
//   STACHE_ASSIGN_OR_RETURN(SessionSigner signer, SessionSigner::Create({key}));
//   std::string cookie = signer.Sign(signer.NewSession(absl::Now()));
//   absl::StatusOr<Session> session = signer.Verify(cookie, absl::Now());
#ifndef STACHE_GATEWAY_SESSION_H_
#define STACHE_GATEWAY_SESSION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::gateway {

// Shorter keys are refused: HMAC-SHA256 wants at least its output's size.
inline constexpr size_t kMinSessionKeyBytes = 32;
// Browsers keep a cookie at most 400 days.
inline constexpr absl::Duration kDefaultSessionMaxAge = absl::Hours(24 * 400);

struct Session {
  // 32 lower-case hex digits; never stored, only its OwnerDigest.
  std::string owner_id;
  absl::Time issued_at;
  // Signed with a key that is no longer the first: sign it again.
  bool signed_with_old_key = false;
};

// Keys separated by newlines or commas; blanks around them and empty lines
// are ignored. INVALID_ARGUMENT (naming `source`, never a key) when there is
// none or one is shorter than kMinSessionKeyBytes.
absl::StatusOr<std::vector<std::string>> ParseSessionKeys(absl::string_view text,
                                                          absl::string_view source);

// Immutable after Create; thread-safe.
class SessionSigner final {
 public:
  // `keys[0]` signs, all verify. INVALID_ARGUMENT when empty or one is short.
  static absl::StatusOr<SessionSigner> Create(
      std::vector<std::string> keys, absl::Duration max_age = kDefaultSessionMaxAge);
  // One random key: sessions end with the process and are not shared
  // between replicas.
  static SessionSigner WithRandomKey(absl::Duration max_age = kDefaultSessionMaxAge);

  // A new owner, issued `now`.
  Session NewSession(absl::Time now) const;
  // "<owner id>.<issue time, unix seconds>.<HMAC, base64url>": cookie-safe.
  std::string Sign(const Session& session) const;
  // UNAUTHENTICATED for anything not signed by one of the keys (malformed,
  // tampered with, another key), issued more than `max_age` ago or in the
  // future (beyond a minute of clock skew).
  absl::StatusOr<Session> Verify(absl::string_view value, absl::Time now) const;
  // Whether the cookie should be sent again: signed with an old key, or
  // past half its life (so that an active visitor keeps their session).
  bool ShouldReissue(const Session& session, absl::Time now) const;

  absl::Duration max_age() const { return max_age_; }

 private:
  SessionSigner(std::vector<std::string> keys, absl::Duration max_age)
      : keys_(std::move(keys)), max_age_(max_age) {}

  std::vector<std::string> keys_;
  absl::Duration max_age_;
};

// What storage holds instead of an owner id: a SHA-256 (hex) of it, so that
// whoever reads storage learns no session.
std::string OwnerDigest(absl::string_view owner_id);

// `bytes` random bytes from OpenSSL's CSPRNG, as lower-case hex.
std::string RandomHex(size_t bytes);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_SESSION_H_
