// deploy/ecs checked offline, with what can stand in for an AWS account here
// and what each stand-in cannot show covered by another check:
// - validate_ecs.py: YAML CloudFormation accepts (no anchors, aliases or
//   unknown tags), a stack that can deploy on a first create, and the
//   template's task definitions and services as ECS API requests against
//   Debian botocore's model of the API;
// - cfn-lint (where installed): every property of every resource against
//   CloudFormation's own resource specification;
// - deploy.sh against a recording fake aws (every outcome of a rollout:
//   success, circuit-breaker rollback, failure, timeout; first deployment);
//   tests/deploy/deploy_on_moto.sh (ctest deploy_on_moto) runs it with the
//   real aws CLI against moto_server where both are installed.
// Only a real account shows that the stack creates, the tasks start and
// pass their health checks, and that AWS accepts the S3 and IAM details.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
using ::testing::Not;

const std::string kRepo = STACHE_SOURCE_DIR;
const std::string kValidator = kRepo + "/tests/deploy/validate_ecs.py";
const std::string kDeploy = kRepo + "/deploy/ecs/deploy.sh";
constexpr char kTag[] = "fedcba987654";

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

testing::CommandResult ValidateEdited(const std::string& file, const std::string& from,
                                      const std::string& to) {
  return Validate(EditedCopy(file, from, to));
}

TEST(EcsDefinitionsTest, ValidateAgainstTheEcsApiModel) {
  auto result = Validate(kRepo + "/deploy/ecs");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output,
              HasSubstr("2 templates, 4 task definitions, 4 services, 0 problems"));
}

TEST(EcsDefinitionsTest, RejectsYamlAliasesAndAnchors) {
  // What the template held before: CloudFormation refuses it, safe_load
  // and cfn-lint 1.51 accept it.
  auto result = ValidateEdited(
      "cloudformation.yaml",
      "      DeploymentConfiguration:\n        MinimumHealthyPercent: 100\n"
      "        MaximumPercent: 200\n"
      "        DeploymentCircuitBreaker: {Enable: true, Rollback: true}\n"
      "      NetworkConfiguration:\n        AwsvpcConfiguration:\n"
      "          AssignPublicIp: DISABLED\n",
      "      DeploymentConfiguration: &deployment\n        MinimumHealthyPercent: 100\n"
      "        MaximumPercent: 200\n"
      "        DeploymentCircuitBreaker: {Enable: true, Rollback: true}\n"
      "      DeploymentConfigurationCopy: *deployment\n"
      "      NetworkConfiguration:\n        AwsvpcConfiguration:\n"
      "          AssignPublicIp: DISABLED\n");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("YAML anchor &deployment"));
  EXPECT_THAT(result.output, HasSubstr("YAML alias *deployment"));
}

TEST(EcsDefinitionsTest, AcceptsShortFormIntrinsicsButNoOtherTags) {
  auto short_form = ValidateEdited("cloudformation.yaml", "Cluster: {Ref: Cluster}",
                                   "Cluster: !Ref Cluster");
  EXPECT_EQ(short_form.exit_code, 0) << short_form.output;
  auto unknown = ValidateEdited("cloudformation.yaml", "Cluster: {Ref: Cluster}",
                                "Cluster: !Reference Cluster");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("YAML tag !Reference"));
}

// cloudformation.yaml with `from` replaced by `to` fails validation with a
// line that says `named`.
void ExpectRejected(const std::string& from, const std::string& to,
                    const std::string& named) {
  auto result = ValidateEdited("cloudformation.yaml", from, to);
  EXPECT_EQ(result.exit_code, 1) << to << "\n" << result.output;
  EXPECT_THAT(result.output, HasSubstr(named)) << to;
}

TEST(EcsDefinitionsTest, RejectsWhatTheApiModelOrTheRollingRulesForbid) {
  ExpectRejected("StopTimeout: 30", "StopTimeoutSeconds: 30", "stopTimeoutSeconds");
  ExpectRejected("      DesiredCount: 2\n", "      DesiredCount: two\n", "desiredCount");
  ExpectRejected("MinimumHealthyPercent: 100", "MinimumHealthyPercent: 50",
                 "minimumHealthyPercent 100");
  ExpectRejected("Cluster: {Ref: Cluster}", "Cluster: {Ref: NoSuchCluster}",
                 "NoSuchCluster");
}

// The first-create failures of the old template, one by one.
TEST(EcsDefinitionsTest, RejectsWhatWouldFailAFirstCreate) {
  ExpectRejected("      SecretString:\n        Fn::Sub: '{\"callers\"",
                 "      SecretStringLater:\n        Fn::Sub: '{\"callers\"",
                 "StoragePolicySecret is created without a value");
  ExpectRejected(
      "DependsOn: [DetectorService, OverlayService, StorageService, Listener, "
      "RedirectListener]",
      "DependsOn: [Listener, RedirectListener]", "must depend on DetectorService");
  ExpectRejected("  LogGroup:\n",
                 "  Repository:\n    Type: AWS::ECR::Repository\n  LogGroup:\n",
                 "ECR repositories belong in repositories.yaml");
  ExpectRejected("              - \"${Repository}:${ImageTag}\"",
                 "              - \"${Repository}:latest\"", "at the ImageTag parameter");
}

TEST(EcsDefinitionsTest, RejectsHealthChecksThatCascadeAndMissingAutoscaling) {
  ExpectRejected("HealthCheckPath: /livez", "HealthCheckPath: /readyz",
                 "must health-check /livez");
  ExpectRejected(
      "      ResourceId: {\"Fn::Sub\": \"service/${Cluster}/${DetectorService.Name}\"}\n"
      "      MinCapacity: 2",
      "      ResourceId: {\"Fn::Sub\": \"service/${Cluster}/${DetectorService.Name}\"}\n"
      "      MinCapacity: 1",
      "detector must keep at least 2 tasks");
  ExpectRejected("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization",
                 "detector needs target tracking on ECSServiceAverageCPUUtilization");
  ExpectRejected(
      "      ServiceRegistries:\n        - RegistryArn: {\"Fn::GetAtt\": "
      "[OverlayDiscovery, "
      "Arn]}\n",
      "", "overlay is not registered in Cloud Map");
}

TEST(EcsDefinitionsTest, CfnLintPassesWithoutErrorsOrWarnings) {
  const std::string cfn_lint = STACHE_CFN_LINT;
  if (cfn_lint.empty()) {
    GTEST_SKIP() << "cfn-lint is not installed (it is not a Debian package; this machine "
                    "kind has it under pyenv): CloudFormation's resource specification "
                    "was NOT checked";
  }
  for (const char* name : {"cloudformation.yaml", "repositories.yaml"}) {
    auto result =
        RunCommand({cfn_lint, kRepo + "/deploy/ecs/" + name}, absl::Seconds(120));
    EXPECT_EQ(result.exit_code, 0) << name << "\n" << result.output;
    EXPECT_EQ(result.output, "") << name;
  }
  // And it is the real linter, which would say so.
  const std::string broken = EditedCopy("cloudformation.yaml", "HealthCheckPath: /livez",
                                        "HealthCheckPathh: /livez") +
                             "/cloudformation.yaml";
  auto result = RunCommand({cfn_lint, broken}, absl::Seconds(120));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("HealthCheckPathh"));
}

// deploy.sh with the recording fake aws (and docker) first on PATH.
class DeployShTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    auto emitted = Validate(kRepo + "/deploy/ecs", {"--emit", dir_ + "/api"});
    ASSERT_EQ(emitted.exit_code, 0) << emitted.output;
  }

  testing::CommandResult Deploy(const std::vector<std::string>& args,
                                const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {
        "/usr/bin/env",
        absl::StrCat("PATH=", kRepo, "/tests/deploy/fake-bin:/usr/bin:/bin"),
        "FAKE_LOG=" + dir_ + "/calls.log",
        "FAKE_DIR=" + dir_,
        "FAKE_TASK_DEFINITIONS=" + dir_ + "/api/task-definitions",
        "STACHE_DEPLOY_POLL_SECONDS=0",
        "AWS_REGION=eu-west-1"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(kDeploy);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(120));
  }

  std::vector<std::string> Calls() {
    return absl::StrSplit(ReadFileOrDie(dir_ + "/calls.log"), '\n', absl::SkipEmpty());
  }

  // Whether the calls starting with each of `expected` happened in that order.
  void ExpectInOrder(const std::vector<std::string>& expected) {
    size_t next = 0;
    for (const std::string& call : Calls()) {
      if (next < expected.size() && call.rfind(expected[next], 0) == 0) ++next;
    }
    EXPECT_EQ(next, expected.size())
        << "missing or out of order: " << (next < expected.size() ? expected[next] : "")
        << "\ncalls:\n"
        << ReadFileOrDie(dir_ + "/calls.log");
  }

  static std::string Rollback(const std::string& service) {
    return absl::StrCat(
        "aws ecs update-service --region eu-west-1 --cluster stache --service ", service,
        " --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-",
        service, ":6");
  }

  std::string dir_;
};

TEST_F(DeployShTest, BuildsPushesAndRollsOutServiceByServiceUntilCompleted) {
  auto result = Deploy({});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::vector<std::string> expected = {
      "aws --region eu-west-1 cloudformation describe-stacks --stack-name "
      "stache-repositories",
      "aws --region eu-west-1 sts get-caller-identity",
      "aws --region eu-west-1 ecr get-login-password"};
  for (const char* service : {"storage", "detector", "overlay", "gateway"}) {
    expected.push_back(
        absl::StrCat("docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/stache-",
                     service, ":"));
  }
  for (const char* service : {"storage", "detector", "overlay", "gateway"}) {
    expected.push_back(
        absl::StrCat("aws --region eu-west-1 ecr describe-images "
                     "--repository-name stache-",
                     service));
  }
  expected.push_back(
      "aws --region eu-west-1 cloudformation describe-stacks --stack-name stache");
  for (const char* service : {"storage", "detector", "overlay", "gateway"}) {
    const std::string prefix = "aws --region eu-west-1 ecs ";
    expected.push_back(absl::StrCat(prefix,
                                    "describe-services --cluster stache --services ",
                                    service, " --query services[0].taskDefinition"));
    expected.push_back(
        absl::StrCat(prefix,
                     "describe-task-definition --task-definition "
                     "arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-",
                     service, ":6"));
    expected.push_back(prefix + "register-task-definition --cli-input-json file://");
    expected.push_back(absl::StrCat(
        prefix, "update-service --cluster stache --service ", service,
        " --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-",
        service, ":7"));
    // Polled until COMPLETED (the fake says IN_PROGRESS first).
    for (int poll = 0; poll < 2; ++poll) {
      expected.push_back(absl::StrCat(prefix,
                                      "describe-services --cluster stache --services ",
                                      service, " --query services[0].deployments"));
    }
  }
  ExpectInOrder(expected);
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"),
              HasSubstr("docker login --username AWS --password-stdin "
                        "123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
  EXPECT_THAT(result.output, HasSubstr("is rolled out on every service"));
  // Rollback commands, gateway first.
  const std::string output = result.output;
  size_t last = 0;
  for (const char* service : {"gateway", "overlay", "detector", "storage"}) {
    const size_t at = output.find(Rollback(service));
    ASSERT_NE(at, std::string::npos) << service << "\n" << output;
    EXPECT_GE(at, last) << service << " out of order\n" << output;
    last = at;
  }

  // What deploy.sh registered is valid for the API and the template's
  // definition with only the image tag changed: one source of truth.
  std::vector<std::string> registered = {"--registered"};
  for (const auto& entry : fs::directory_iterator(dir_ + "/registered")) {
    registered.push_back(entry.path().string());
    EXPECT_THAT(ReadFileOrDie(entry.path().string()),
                ::testing::ContainsRegex("stache-[a-z]+:[0-9a-f]{12}\""));
  }
  EXPECT_EQ(registered.size(), 5u);
  auto validation = Validate(kRepo + "/deploy/ecs", registered);
  EXPECT_EQ(validation.exit_code, 0) << validation.output;
}

TEST_F(DeployShTest, ARolledBackGatewayFailsTheDeploymentAndPrintsEveryRollback) {
  auto result = Deploy({"--image-tag", kTag}, {"FAKE_SCENARIO=rollback:gateway"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output,
              HasSubstr("gateway rolled back to "
                        "arn:aws:ecs:eu-west-1:123456789012:task-definition/"
                        "stache-gateway:6: ECS deployment circuit breaker"));
  EXPECT_THAT(result.output, Not(HasSubstr("rolled out on every service")));
  size_t last = 0;
  for (const char* service : {"gateway", "overlay", "detector", "storage"}) {
    const size_t at = result.output.find(Rollback(service));
    ASSERT_NE(at, std::string::npos) << service << "\n" << result.output;
    EXPECT_GE(at, last) << service << " out of order\n" << result.output;
    last = at;
  }
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"), Not(HasSubstr("docker")))
      << "--image-tag deploys pushed images without building";
}

TEST_F(DeployShTest, ATimedOutServiceStopsTheServicesAfterIt) {
  // Long enough for the other services on a loaded machine (each fake call
  // starts Python).
  auto result =
      Deploy({"--image-tag", kTag, "--timeout", "8"}, {"FAKE_SCENARIO=timeout:detector"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output,
              HasSubstr("detector timed out after 8s in rolloutState IN_PROGRESS"));
  EXPECT_THAT(result.output, HasSubstr(Rollback("detector")));
  EXPECT_THAT(result.output, HasSubstr(Rollback("storage")));
  EXPECT_LT(result.output.find(Rollback("detector")),
            result.output.find(Rollback("storage")));
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"), Not(HasSubstr("--service overlay")));
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"), Not(HasSubstr("--service gateway")));
}

TEST_F(DeployShTest, AFailedRolloutFailsTheDeployment) {
  auto result = Deploy({"--image-tag", kTag}, {"FAKE_SCENARIO=failed:storage"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("storage failed: ECS deployment circuit breaker"));
  EXPECT_THAT(result.output, HasSubstr(Rollback("storage")));
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"), Not(HasSubstr("--service detector")));
}

TEST_F(DeployShTest, AFirstDeploymentCreatesTheRepositoriesThenTheStackWithTheTag) {
  auto refused = Deploy({"--image-tag", kTag}, {"FAKE_NO_STACKS=stache"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("--create-parameters"));

  auto result = Deploy({"--image-tag", kTag, "--create-parameters",
                        "VpcId=vpc-1 PrivateSubnetIds=subnet-1,subnet-2 "
                        "PublicSubnetIds=subnet-3,subnet-4 CertificateArn=arn:aws:acm:x"},
                       {"FAKE_NO_STACKS=stache stache-repositories"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ExpectInOrder({
      "aws --region eu-west-1 cloudformation create-stack --stack-name "
      "stache-repositories "
      "--template-body file://deploy/ecs/repositories.yaml",
      "aws --region eu-west-1 cloudformation wait stack-create-complete --stack-name "
      "stache-repositories",
      "aws --region eu-west-1 ecr describe-images --repository-name stache-storage "
      "--image-ids imageTag=fedcba987654",
      absl::StrCat("aws --region eu-west-1 cloudformation deploy --stack-name stache "
                   "--template-file deploy/ecs/cloudformation.yaml --capabilities "
                   "CAPABILITY_NAMED_IAM --parameter-overrides ImageTag=",
                   kTag,
                   " RepositoriesStack=stache-repositories VpcId=vpc-1 "
                   "PrivateSubnetIds=subnet-1,subnet-2 PublicSubnetIds=subnet-3,subnet-4 "
                   "CertificateArn=arn:aws:acm:x"),
  });
  EXPECT_THAT(ReadFileOrDie(dir_ + "/calls.log"), Not(HasSubstr("update-service")));
  EXPECT_THAT(result.output, HasSubstr("https://stache-123.eu-west-1.elb.amazonaws.com"));
}

TEST_F(DeployShTest, RefusesToRunWithoutARegion) {
  auto result = RunCommand(
      {"/usr/bin/env", "-u", "AWS_REGION", "-u", "AWS_DEFAULT_REGION", kDeploy});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("--region"));
}

TEST_F(DeployShTest, ValidatorRejectsARegisteredDefinitionThatDriftsFromTheTemplate) {
  ASSERT_EQ(Deploy({"--image-tag", kTag}).exit_code, 0);
  const std::string path = dir_ + "/registered/stache-gateway.json";
  const std::string drifted = absl::StrReplaceAll(
      ReadFileOrDie(path), {{"\"STACHE_TRUSTED_PROXY_HOPS\", \"value\": \"1\"",
                             "\"STACHE_TRUSTED_PROXY_HOPS\", \"value\": \"2\""}});
  ASSERT_NE(drifted, ReadFileOrDie(path));
  std::ofstream(path, std::ios::trunc) << drifted;
  auto validation = Validate(kRepo + "/deploy/ecs", {"--registered", path});
  EXPECT_EQ(validation.exit_code, 1) << validation.output;
  EXPECT_THAT(validation.output,
              HasSubstr("differs from the template's task definition"));
}

}  // namespace
}  // namespace stache
