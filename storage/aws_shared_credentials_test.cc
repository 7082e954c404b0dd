#include "storage/aws_shared_credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/testing/process.h"

namespace stache::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteFile(const std::string& text) {
  const std::string path = testing::MakeTempDir() + "/credentials";
  std::ofstream(path) << text;
  return path;
}

TEST(SharedCredentialsTest, ReadsTheNamedProfile) {
  const std::string path = WriteFile(
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = secret0\n\n"
      "[minio]\naws_access_key_id=AKIDMINIO\naws_secret_access_key=secret1\n"
      "aws_session_token = token1\n");
  absl::StatusOr<S3Credentials> minio = ReadSharedCredentialsFile(path, "minio");
  ASSERT_TRUE(minio.ok()) << minio.status();
  EXPECT_EQ(minio->access_key_id, "AKIDMINIO");
  EXPECT_EQ(minio->secret_access_key, "secret1");
  EXPECT_EQ(minio->session_token, "token1");
  absl::StatusOr<S3Credentials> fallback = ReadSharedCredentialsFile(path, "default");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(fallback->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(fallback->session_token, "");
}

TEST(SharedCredentialsTest, MistakesAreClearAndQuoteNoSecret) {
  const std::string no_secret = WriteFile("[default]\naws_access_key_id = AKIDONLY\n");
  EXPECT_THAT(ReadSharedCredentialsFile(no_secret, "default").status().message(),
              HasSubstr("needs aws_access_key_id and aws_secret_access_key"));
  EXPECT_THAT(ReadSharedCredentialsFile(no_secret, "prod").status().message(),
              HasSubstr("no profile [prod]"));
  const std::string garbage = WriteFile("[default]\nsecretvalue-without-equals\n");
  const absl::Status status = ReadSharedCredentialsFile(garbage, "default").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), Not(HasSubstr("secretvalue")));
  EXPECT_EQ(
      ReadSharedCredentialsFile("/nonexistent/credentials", "default").status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stache::storage
