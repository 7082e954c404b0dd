// deploy/ecs checked offline: definitions against the ECS API model in
// Debian's botocore, the CloudFormation template's references, and
// deploy.sh's calls against a recording fake aws (and docker) on PATH.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

namespace fs = std::filesystem;
using ::stache::testing::MakeTempDir;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::testing::HasSubstr;

const std::string kRepo = STACHE_SOURCE_DIR;
const std::string kValidator = kRepo + "/tests/deploy/validate_ecs.py";

testing::CommandResult Validate(const std::string& ecs_dir,
                                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"/usr/bin/python3", kValidator, ecs_dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunCommand(argv, absl::Seconds(60));
}

// A copy of deploy/ecs with `from` replaced by `to` in `file`.
std::string EditedCopy(const std::string& file, const std::string& from,
                       const std::string& to) {
  const std::string copy = MakeTempDir() + "/ecs";
  fs::copy(kRepo + "/deploy/ecs", copy, fs::copy_options::recursive);
  const std::string path = copy + "/" + file;
  const std::string original = ReadFileOrDie(path);
  const std::string edited = absl::StrReplaceAll(original, {{from, to}});
  EXPECT_NE(edited, original) << "edit did not apply to " << file;
  std::ofstream(path, std::ios::trunc) << edited;
  return copy;
}

TEST(EcsDefinitionsTest, ValidateAgainstTheEcsApiModel) {
  auto result = Validate(kRepo + "/deploy/ecs");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("4 task definitions, 4 services, 0 problems"));
}

TEST(EcsDefinitionsTest, ValidatorRejectsAnUnknownTaskDefinitionField) {
  auto result = Validate(EditedCopy("task-definitions/detector.json", "\"stopTimeout\"",
                                    "\"stopTimeoutSeconds\""));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("stopTimeoutSeconds"));
}

TEST(EcsDefinitionsTest, ValidatorRejectsADeploymentThatDropsCapacity) {
  auto result = Validate(EditedCopy("services/overlay.json",
                                    "\"minimumHealthyPercent\": 100",
                                    "\"minimumHealthyPercent\": 50"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("minimumHealthyPercent 100"));
}

TEST(EcsDefinitionsTest, ValidatorRejectsAWrongTypeForTheApiModel) {
  auto result = Validate(EditedCopy("services/storage.json", "\"desiredCount\": 2",
                                    "\"desiredCount\": \"two\""));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("desiredCount"));
}

TEST(EcsDefinitionsTest, ValidatorRejectsATemplateReferenceToNothing) {
  auto result = Validate(EditedCopy("cloudformation.yaml", "Cluster: {Ref: Cluster}",
                                    "Cluster: {Ref: NoSuchCluster}"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("NoSuchCluster"));
}

TEST(DeployShTest, PushesRegistersUpdatesAndWaitsInOrder) {
  const std::string dir = MakeTempDir();
  const std::string log = dir + "/calls.log";
  fs::create_directories(dir + "/rendered");
  auto result = RunCommand(
      {"/usr/bin/env", absl::StrCat("PATH=", kRepo, "/tests/deploy/fake-bin:/usr/bin:/bin"),
       "FAKE_LOG=" + log, "FAKE_DIR=" + dir + "/rendered", "AWS_REGION=eu-west-1",
       kRepo + "/deploy/ecs/deploy.sh"},
      absl::Seconds(120));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::vector<std::string> calls = absl::StrSplit(ReadFileOrDie(log), '\n');

  // The order of the calls that matter, per service, backends first.
  // (aws ecr get-login-password and docker login run as one pipeline, so
  // either may log first.)
  std::vector<std::string> expected = {"aws sts get-caller-identity", "docker build",
                                       "aws ecr get-login-password"};
  for (const char* service : {"storage", "detector", "overlay", "gateway"}) {
    expected.push_back(absl::StrCat("docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/stache-", service, ":"));
  }
  for (const char* service : {"storage", "detector", "overlay", "gateway"}) {
    expected.push_back(absl::StrCat("aws ecs describe-services --region eu-west-1 --cluster stache --services ", service));
    expected.push_back("aws ecs register-task-definition --region eu-west-1 --cli-input-json file://");
    expected.push_back(absl::StrCat(
        "aws ecs update-service --region eu-west-1 --cluster stache --service ", service,
        " --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-", service, ":7"));
    expected.push_back(absl::StrCat(
        "aws ecs wait services-stable --region eu-west-1 --cluster stache --services ", service));
  }
  size_t next = 0;
  for (const std::string& call : calls) {
    if (next < expected.size() && call.rfind(expected[next], 0) == 0) ++next;
  }
  EXPECT_EQ(next, expected.size()) << "missing or out of order: "
                                   << (next < expected.size() ? expected[next] : "")
                                   << "\ncalls:\n" << ReadFileOrDie(log);
  EXPECT_THAT(ReadFileOrDie(log),
              HasSubstr("docker login --username AWS --password-stdin "
                        "123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
  EXPECT_THAT(result.output, HasSubstr("to roll back"));
  EXPECT_THAT(result.output, HasSubstr("--task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-gateway:6"));

  // What deploy.sh registered is valid for the API, images tagged with the revision.
  std::vector<std::string> rendered;
  for (const auto& entry : fs::directory_iterator(dir + "/rendered")) {
    rendered.push_back(entry.path().string());
    EXPECT_THAT(ReadFileOrDie(entry.path().string()),
                ::testing::ContainsRegex("stache-[a-z]+:[0-9a-f]{12}\""));
  }
  EXPECT_EQ(rendered.size(), 4u);
  auto validation = Validate(kRepo + "/deploy/ecs", rendered);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
}

TEST(DeployShTest, RefusesToRunWithoutARegion) {
  auto result = RunCommand({"/usr/bin/env", "-u", "AWS_REGION", "-u", "AWS_DEFAULT_REGION",
                            kRepo + "/deploy/ecs/deploy.sh"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("--region"));
}

}  // namespace
}  // namespace stache
