// Who may delete an upload: its owner or the holder of its delete token;
// storage holds neither.
#include "gateway/ownership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/session.h"
#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOwner[] = "0123456789abcdef0123456789abcdef";
constexpr char kOther[] = "fedcba9876543210fedcba9876543210";

TEST(OwnershipTest, TheOwnerAndTheTokenMayDeleteNobodyElse) {
  const UploadOwnership upload = NewUploadOwnership(kOwner);
  EXPECT_EQ(upload.delete_token.size(), 64u) << "256 bits";
  EXPECT_THAT(CheckMayDelete(upload.stored, {.owner_id = kOwner}), IsOk());
  EXPECT_THAT(CheckMayDelete(upload.stored, {.delete_token = upload.delete_token}),
              IsOk());
  EXPECT_THAT(CheckMayDelete(upload.stored,
                             {.owner_id = kOther, .delete_token = upload.delete_token}),
              IsOk());
  EXPECT_THAT(CheckMayDelete(upload.stored, {}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("Bearer")));
  EXPECT_THAT(CheckMayDelete(upload.stored, {.owner_id = kOther}),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(CheckMayDelete(upload.stored,
                             {.delete_token = NewUploadOwnership(kOwner).delete_token}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token")));
  // The digest itself is not the token.
  EXPECT_FALSE(
      CheckMayDelete(upload.stored, {.delete_token = upload.stored.delete_token_sha256})
          .ok());
  EXPECT_FALSE(
      CheckMayDelete(upload.stored, {.owner_id = upload.stored.owner_digest}).ok());
}

TEST(OwnershipTest, StorageHoldsDigestsOnly) {
  const UploadOwnership upload = NewUploadOwnership(kOwner);
  std::map<std::string, std::string> labels = {{"id", "x"}};
  AddOwnershipLabels(upload.stored, labels);
  for (const auto& [name, value] : labels) {
    EXPECT_THAT(value, Not(HasSubstr(kOwner))) << name;
    EXPECT_THAT(value, Not(HasSubstr(upload.delete_token))) << name;
  }
  const StoredOwnership back = OwnershipFromLabels(labels);
  EXPECT_EQ(back.owner_digest, OwnerDigest(kOwner));
  EXPECT_EQ(back.delete_token_sha256, DeleteTokenDigest(upload.delete_token));
}

TEST(OwnershipTest, AnUploadWithoutOwnerIsDeletableByItsTokenOnly) {
  const UploadOwnership anonymous = NewUploadOwnership("");
  EXPECT_TRUE(anonymous.stored.owner_digest.empty());
  EXPECT_THAT(CheckMayDelete(anonymous.stored, {.delete_token = anonymous.delete_token}),
              IsOk());
  EXPECT_FALSE(CheckMayDelete(anonymous.stored, {.owner_id = kOwner}).ok());
}

TEST(OwnershipTest, RecordsFromBeforeOwnersAreDeletableByNobody) {
  const StoredOwnership legacy = OwnershipFromLabels({{"id", "x"}, {"style", "pencil"}});
  EXPECT_FALSE(CheckMayDelete(legacy, {.owner_id = kOwner}).ok());
  EXPECT_FALSE(CheckMayDelete(legacy, {.delete_token = "anything"}).ok());
  EXPECT_FALSE(CheckMayDelete(legacy, {.delete_token = DeleteTokenDigest("")}).ok());
}

}  // namespace
}  // namespace stache::gateway
