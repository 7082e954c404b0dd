#include "server/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/flags/flag.h"
#include "server/grpc_server.h"
#include "tests/testing/status_matchers.h"

namespace stache::server {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

TEST(FlagsTest, EnvironmentVariableNameIsPrefixedAndCapitalised) {
  EXPECT_EQ(EnvironmentVariableForFlag("max_image_bytes"), "STACHE_MAX_IMAGE_BYTES");
}

TEST(FlagsTest, ServerConfigComesFromTheSharedFlags) {
  absl::SetFlag(&FLAGS_grace_period, absl::Seconds(3));
  absl::SetFlag(&FLAGS_max_image_bytes, 1234);
  ServerConfig config = ServerConfigFromFlags(50051);
  EXPECT_EQ(config.port, 50051);
  EXPECT_EQ(config.grace_period, absl::Seconds(3));
  EXPECT_EQ(config.max_image_bytes, 1234);
}

// The limits that keep one kind of call from starving another (#12) are on
// by default: a server started from its flags has them.
TEST(FlagsTest, CallLimitsAndDeadlinesComeFromTheFlagsAndAreOnByDefault) {
  ServerConfig config = ServerConfigFromFlags(50051);
  EXPECT_EQ(config.max_concurrent_calls, 32);
  EXPECT_EQ(config.max_concurrent_streams, 32);
  EXPECT_EQ(config.max_control_streams, 8);
  EXPECT_EQ(config.default_call_deadline, absl::Seconds(30));
  EXPECT_EQ(config.default_stream_deadline, absl::Minutes(5));
  EXPECT_EQ(config.stream_idle_timeout, absl::Seconds(30));
  absl::SetFlag(&FLAGS_stream_idle_timeout, absl::Seconds(2));
  absl::SetFlag(&FLAGS_max_control_streams, 3);
  config = ServerConfigFromFlags(50051);
  EXPECT_EQ(config.stream_idle_timeout, absl::Seconds(2));
  EXPECT_EQ(config.max_control_streams, 3);
  EXPECT_THAT(ValidateServerConfig(config), IsOk());
}

TEST(FlagsTest, EnvironmentOverridesDefaultAndCommandLineOverridesEnvironment) {
  setenv("STACHE_LOG_LEVEL", "warning", 1);
  setenv("STACHE_HOST", "127.0.0.2", 1);
  char arg0[] = "test";
  char arg1[] = "--host=127.0.0.3";
  char* argv[] = {arg0, arg1, nullptr};
  ParseFlags(2, argv, "test");
  EXPECT_EQ(absl::GetFlag(FLAGS_log_level), "warning");
  EXPECT_EQ(absl::GetFlag(FLAGS_host), "127.0.0.3");
  unsetenv("STACHE_LOG_LEVEL");
  unsetenv("STACHE_HOST");
}

void ParseWithBadGracePeriodInEnvironment() {
  setenv("STACHE_GRACE_PERIOD", "soon", 1);
  char arg0[] = "test";
  char* argv[] = {arg0, nullptr};
  ParseFlags(1, argv, "test");
}

TEST(FlagsTest, BadEnvironmentValueExitsWithTheVariableName) {
  EXPECT_EXIT(ParseWithBadGracePeriodInEnvironment(), ::testing::ExitedWithCode(2),
              HasSubstr("STACHE_GRACE_PERIOD"));
}

TEST(ServerConfigTest, RejectsImpossibleValuesNamingTheFlag) {
  ServerConfig config;
  EXPECT_THAT(ValidateServerConfig(config), IsOk());
  config.port = 70000;
  EXPECT_THAT(ValidateServerConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--port")));
  config = ServerConfig();
  config.max_image_bytes = 0;
  EXPECT_THAT(ValidateServerConfig(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("--max_image_bytes")));
  config = ServerConfig();
  config.grace_period = absl::Seconds(-1);
  EXPECT_THAT(ValidateServerConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--grace_period")));
  config = ServerConfig();
  config.grace_period = absl::Seconds(2);
  config.drain_delay = absl::Seconds(3);
  EXPECT_THAT(ValidateServerConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--drain_delay")));
  config = ServerConfig();
  config.default_call_deadline = absl::ZeroDuration();
  EXPECT_THAT(
      ValidateServerConfig(config),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--default_call_deadline")));
}

TEST(ServerConfigTest, MessageLimitFitsTheLargestImage) {
  EXPECT_GT(MaxMessageBytes(25'000'000), 25'000'000);
  EXPECT_EQ(MaxMessageBytes(int64_t{1} << 40), INT32_MAX);
}

}  // namespace
}  // namespace stache::server
