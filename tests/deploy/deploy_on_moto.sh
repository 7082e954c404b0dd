#!/usr/bin/env bash
# deploy.sh against moto_server with the real aws CLI (no fake): what the
# fake aws cannot show is whether the real CLI parses deploy.sh's arguments,
# returns what its --query expressions expect, and whether a task definition
# read back with describe-task-definition and edited by jq registers again.
#
#   tests/deploy/deploy_on_moto.sh /path/to/moto_server /path/to/aws
#
# 1. deploy.sh creates the repositories stack (repositories.yaml through
#    moto's CloudFormation) and refuses images that are not pushed.
# 2. Here, with the real CLI: a VPC, the images, the cluster, the template's
#    task definitions and services (validate_ecs.py --emit). moto's
#    CloudFormation has no Cloud Map resources, so the service stack itself
#    is a placeholder stack named stache.
# 3. deploy.sh's update path, one service per run: it registers revision 2
#    (only the image tag changed: validate_ecs.py --registered compares it
#    with the template) and updates the service. moto does not model
#    deployments (the PRIMARY one stays on revision 1, COMPLETED), which is
#    what a rolled-back deployment looks like: deploy.sh must say so, exit
#    non-zero and print the rollback command, never report success.
# Exits non-zero with a FAIL line at the first check that fails.
set -euo pipefail

moto_server="${1:-}"
aws_cli="${2:-}"
if [ ! -x "$moto_server" ] || [ ! -x "$aws_cli" ]; then
  echo "SKIP: moto_server or the aws CLI is not installed (neither is a Debian package;" \
    "this machine kind has them under pyenv): deploy.sh was NOT run with the real aws CLI"
  exit 77
fi
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT

export PATH="$(dirname "$aws_cli"):$PATH"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null STACHE_DEPLOY_POLL_SECONDS=0
fail() { echo "FAIL: $*"; [ -f "$work/out" ] && cat "$work/out"; exit 1; }
for _ in $(seq 50); do
  aws sts get-caller-identity >/dev/null 2>&1 && break
  sleep 0.2
done
aws sts get-caller-identity >/dev/null || fail "moto_server did not start: $(cat "$work/moto.log")"

tag=fedcba987654
echo "moto: 1. first run creates the repositories and refuses unpushed images"
if "$repo_root/deploy/ecs/deploy.sh" --image-tag "$tag" > "$work/out" 2>&1; then
  fail "deploy.sh succeeded without images"
fi
grep -q "stache-storage:$tag is not in ECR" "$work/out" || fail "no refusal of the missing image"
[ "$(aws ecr describe-repositories --query 'length(repositories)')" = 4 ] ||
  fail "the repositories stack did not make four repositories"

echo "moto: 2. network, images, cluster, the template's task definitions and services"
/usr/bin/python3 "$repo_root/tests/deploy/validate_ecs.py" "$repo_root/deploy/ecs" \
  --emit "$work/api" > "$work/out" || fail "validate_ecs.py"
vpc="$(aws ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId --output text)"
subnet_a="$(aws ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.0.1.0/24 --query Subnet.SubnetId --output text)"
subnet_b="$(aws ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.0.2.0/24 --query Subnet.SubnetId --output text)"
group="$(aws ec2 create-security-group --group-name stache-tasks --description tasks \
  --vpc-id "$vpc" --query GroupId --output text)"
aws ecs create-cluster --cluster-name stache >/dev/null
aws cloudformation create-stack --stack-name stache --template-body \
  '{"Resources": {"Placeholder": {"Type": "AWS::Logs::LogGroup"}}}' >/dev/null
services=(storage detector overlay gateway)
for service in "${services[@]}"; do
  aws ecr put-image --repository-name "stache-$service" --image-tag "$tag" \
    --image-manifest '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {"digest": "sha256:0"}, "layers": []}' >/dev/null
  arn="$(aws ecs register-task-definition \
    --cli-input-json "file://$work/api/task-definitions/$service.json" \
    --query taskDefinition.taskDefinitionArn --output text)"
  jq --arg arn "$arn" --arg a "$subnet_a" --arg b "$subnet_b" --arg group "$group" '
    .taskDefinition = $arn
    | .networkConfiguration.awsvpcConfiguration.subnets = [$a, $b]
    | .networkConfiguration.awsvpcConfiguration.securityGroups = [$group]' \
    "$work/api/services/$service.json" > "$work/service.json"
  aws ecs create-service --cli-input-json "file://$work/service.json" >/dev/null ||
    fail "create-service $service"
done

echo "moto: 3. the update path, service by service"
for service in "${services[@]}"; do
  if "$repo_root/deploy/ecs/deploy.sh" --image-tag "$tag" --services "$service" \
      --timeout 5 > "$work/out" 2>&1; then
    fail "$service: deploy.sh reported success, but moto's PRIMARY deployment is revision 1"
  fi
  grep -q "deploy: $service -> arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-$service:2" \
    "$work/out" || fail "$service: revision 2 not registered"
  grep -q "deploy: $service rolled back to arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-$service:1" \
    "$work/out" || fail "$service: the stale PRIMARY deployment was not reported"
  grep -q "aws ecs update-service --region eu-west-1 --cluster stache --service $service --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-$service:1" \
    "$work/out" || fail "$service: no rollback command"
  [ "$(aws ecs describe-services --cluster stache --services "$service" \
      --query 'services[0].taskDefinition' --output text)" = \
    "arn:aws:ecs:eu-west-1:123456789012:task-definition/stache-$service:2" ] ||
    fail "$service: update-service did not reach moto"
  aws ecs describe-task-definition --task-definition "stache-$service:2" --query taskDefinition \
    | jq 'del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
              .registeredAt, .registeredBy, .placementConstraints)' > "$work/registered-$service.json"
  jq -e --arg tag "$tag" '.containerDefinitions[0].image | endswith(":" + $tag)' \
    "$work/registered-$service.json" >/dev/null || fail "$service: image tag not changed"
done
/usr/bin/python3 "$repo_root/tests/deploy/validate_ecs.py" "$repo_root/deploy/ecs" \
  --registered "$work"/registered-*.json > "$work/out" ||
  fail "what moto registered differs from the template"
echo "moto: every check passed"
