// Session cookies: signed, verified, rotated; anything else is refused.
#include "gateway/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKeyA(32, 'a');
const std::string kKeyB = "0123456789abcdef0123456789abcdef-b";
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

SessionSigner Signer(std::vector<std::string> keys) {
  absl::StatusOr<SessionSigner> signer = SessionSigner::Create(std::move(keys));
  EXPECT_THAT(signer.status(), IsOk());
  return *std::move(signer);
}

TEST(SessionTest, ASignedSessionVerifiesWithItsOwner) {
  SessionSigner signer = Signer({kKeyA});
  const Session session = signer.NewSession(kNow);
  EXPECT_EQ(session.owner_id.size(), 32u) << "128 bits";
  const std::string cookie = signer.Sign(session);
  EXPECT_THAT(cookie, Not(HasSubstr(";")));
  EXPECT_THAT(cookie, Not(HasSubstr(" ")));
  absl::StatusOr<Session> verified = signer.Verify(cookie, kNow + absl::Hours(1));
  ASSERT_THAT(verified.status(), IsOk());
  EXPECT_EQ(verified->owner_id, session.owner_id);
  EXPECT_EQ(verified->issued_at, kNow);
  EXPECT_FALSE(verified->signed_with_old_key);
  EXPECT_NE(signer.NewSession(kNow).owner_id, session.owner_id);
}

TEST(SessionTest, AnyChangeToTheCookieIsRefused) {
  SessionSigner signer = Signer({kKeyA});
  const std::string cookie = signer.Sign(signer.NewSession(kNow));
  for (size_t i = 0; i < cookie.size(); ++i) {
    std::string tampered = cookie;
    tampered[i] = tampered[i] == '1' ? '2' : '1';
    EXPECT_THAT(signer.Verify(tampered, kNow).status(),
                StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_))
        << "byte " << i << ": " << tampered;
  }
  // Another owner with the old MAC.
  Session other = signer.NewSession(kNow);
  const std::string mac = cookie.substr(cookie.rfind('.'));
  const std::string forged = signer.Sign(other).substr(0, cookie.rfind('.')) + mac;
  EXPECT_FALSE(signer.Verify(forged, kNow).ok());
}

TEST(SessionTest, MalformedValuesAreRefused) {
  SessionSigner signer = Signer({kKeyA});
  for (const std::string& value : std::vector<std::string>{
           "", ".", "..", "abc", "a.b.c", "a.b.c.d", std::string(1000, 'x'),
           "0123456789abcdef0123456789abcdef.1800000000.",
           "0123456789ABCDEF0123456789ABCDEF.1800000000.AAAA",
           "0123456789abcdef0123456789abcdef.notanumber.AAAA"}) {
    EXPECT_THAT(signer.Verify(value, kNow).status(),
                StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_))
        << value;
  }
}

TEST(SessionTest, AnotherKeysCookieIsRefused) {
  const std::string cookie = Signer({kKeyB}).Sign(Signer({kKeyB}).NewSession(kNow));
  EXPECT_THAT(Signer({kKeyA}).Verify(cookie, kNow).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not signed")));
}

TEST(SessionTest, RotationVerifiesWithTheOldKeyAndAsksForAReissue) {
  SessionSigner old_signer = Signer({kKeyA});
  const Session session = old_signer.NewSession(kNow);
  const std::string old_cookie = old_signer.Sign(session);
  // A new key first, the old one still there.
  SessionSigner rotated = Signer({kKeyB, kKeyA});
  absl::StatusOr<Session> verified = rotated.Verify(old_cookie, kNow);
  ASSERT_THAT(verified.status(), IsOk());
  EXPECT_EQ(verified->owner_id, session.owner_id);
  EXPECT_TRUE(verified->signed_with_old_key);
  EXPECT_TRUE(rotated.ShouldReissue(*verified, kNow));
  // Re-signed, it verifies with the new key alone.
  const std::string new_cookie = rotated.Sign(*verified);
  EXPECT_THAT(Signer({kKeyB}).Verify(new_cookie, kNow).status(), IsOk());
  // The old key removed: the old cookie is refused.
  EXPECT_FALSE(Signer({kKeyB}).Verify(old_cookie, kNow).ok());
}

TEST(SessionTest, ExpiredAndFutureSessionsAreRefused) {
  absl::StatusOr<SessionSigner> signer = SessionSigner::Create({kKeyA}, absl::Hours(10));
  ASSERT_THAT(signer.status(), IsOk());
  const Session session = signer->NewSession(kNow);
  const std::string cookie = signer->Sign(session);
  EXPECT_THAT(signer->Verify(cookie, kNow + absl::Hours(9)).status(), IsOk());
  EXPECT_TRUE(signer->ShouldReissue(*signer->Verify(cookie, kNow + absl::Hours(6)),
                                    kNow + absl::Hours(6)));
  EXPECT_FALSE(signer->ShouldReissue(session, kNow + absl::Hours(1)));
  EXPECT_THAT(signer->Verify(cookie, kNow + absl::Hours(11)).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
  EXPECT_THAT(signer->Verify(cookie, kNow - absl::Hours(1)).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("future")));
}

TEST(SessionTest, KeysAreParsedAndShortOnesRefused) {
  absl::StatusOr<std::vector<std::string>> keys =
      ParseSessionKeys(" " + kKeyB + " \n\n" + kKeyA + "\n", "the file");
  ASSERT_THAT(keys.status(), IsOk());
  EXPECT_EQ(*keys, (std::vector<std::string>{kKeyB, kKeyA}));
  EXPECT_EQ(*ParseSessionKeys(kKeyA + "," + kKeyB, "env"),
            (std::vector<std::string>{kKeyA, kKeyB}));
  EXPECT_THAT(ParseSessionKeys(kKeyA + ",short-key", "STACHE_SESSION_KEY").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("STACHE_SESSION_KEY"), HasSubstr("32"),
                             Not(HasSubstr("short-key")))));
  EXPECT_THAT(ParseSessionKeys(" \n ,", "the file").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no session key")));
  EXPECT_FALSE(SessionSigner::Create({}).ok());
  EXPECT_FALSE(SessionSigner::Create({"short"}).ok());
}

TEST(SessionTest, OwnerDigestsHideTheOwnerAndDiffer) {
  const std::string digest = OwnerDigest("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(digest.size(), 64u);
  EXPECT_THAT(digest, Not(HasSubstr("0123456789abcdef0123456789abcdef")));
  EXPECT_NE(digest, OwnerDigest("0123456789abcdef0123456789abcdee"));
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

}  // namespace
}  // namespace stache::gateway
