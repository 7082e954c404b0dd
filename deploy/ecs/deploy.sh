#!/usr/bin/env bash
# Rolls a new revision of stache out to ECS, one service at a time:
#   1. builds the images from HEAD and tags them with the git revision,
#   2. pushes them to the stack's ECR repositories,
#   3. registers a new task definition revision per service (rendered from
#      deploy/ecs/task-definitions/*.json with the stack's outputs),
#   4. updates each service (rolling: minimumHealthyPercent 100,
#      maximumPercent 200, circuit breaker with rollback) and waits for
#      services-stable before the next one. Backends go first, the gateway last.
#
#   deploy/ecs/deploy.sh [--region R] [--stack stache] [--cluster stache]
#                        [--services "storage detector overlay gateway"]
#
# Needs aws (CLI v2), docker and git. Prints how to roll back at the end.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
stack=stache
cluster=stache
services=(storage detector overlay gateway)
while [ $# -gt 0 ]; do
  case "$1" in
    --region) region="$2"; shift 2 ;;
    --stack) stack="$2"; shift 2 ;;
    --cluster) cluster="$2"; shift 2 ;;
    --services) read -r -a services <<< "$2"; shift 2 ;;
    *) echo "usage: $0 [--region R] [--stack S] [--cluster C] [--services '...']" >&2; exit 2 ;;
  esac
done
[ -n "$region" ] || { echo "deploy: set --region or AWS_REGION" >&2; exit 2; }

revision="$(git rev-parse --short=12 HEAD)"
account="$(aws sts get-caller-identity --query Account --output text)"
registry="$account.dkr.ecr.$region.amazonaws.com"
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

echo "deploy: revision $revision to cluster $cluster in $region"
deploy/build-images.sh --tag "$revision" --services "${services[*]}"
aws ecr get-login-password --region "$region" |
  docker login --username AWS --password-stdin "$registry"
for service in "${services[@]}"; do
  docker tag "stache-$service:$revision" "$registry/stache-$service:$revision"
  docker push "$registry/stache-$service:$revision"
done

execution_role="$(output ExecutionRoleArn)"
log_group="$(output LogGroup)"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
rollback=()
for service in "${services[@]}"; do
  task_role="$(output ServiceTaskRoleArn)"
  [ "$service" = storage ] && task_role="$(output StorageTaskRoleArn)"
  sed -e "s|{{IMAGE}}|$registry/stache-$service:$revision|" \
      -e "s|{{REGION}}|$region|g" \
      -e "s|{{REVISION}}|$revision|g" \
      -e "s|{{LOG_GROUP}}|$log_group|g" \
      -e "s|{{EXECUTION_ROLE_ARN}}|$execution_role|g" \
      -e "s|{{TASK_ROLE_ARN}}|$task_role|g" \
      -e "s|{{STORAGE_BUCKET}}|$( [ "$service" = storage ] && output StorageBucket)|g" \
      -e "s|{{STORAGE_POLICY_SECRET_ARN}}|$( [ "$service" = storage ] && output StoragePolicySecretArn)|g" \
      -e "s|{{GATEWAY_TOKEN_SECRET_ARN}}|$( [ "$service" = gateway ] && output GatewayTokenSecretArn)|g" \
      -e "s|{{SESSION_KEY_SECRET_ARN}}|$( [ "$service" = gateway ] && output SessionKeySecretArn)|g" \
      "deploy/ecs/task-definitions/$service.json" > "$rendered/$service.json"
  if grep -q '{{' "$rendered/$service.json"; then
    echo "deploy: unfilled placeholder in $service.json" >&2; exit 1
  fi
  previous="$(aws ecs describe-services --region "$region" --cluster "$cluster" \
    --services "$service" --query 'services[0].taskDefinition' --output text)"
  arn="$(aws ecs register-task-definition --region "$region" \
    --cli-input-json "file://$rendered/$service.json" \
    --query 'taskDefinition.taskDefinitionArn' --output text)"
  echo "deploy: $service -> $arn (was $previous)"
  aws ecs update-service --region "$region" --cluster "$cluster" --service "$service" \
    --task-definition "$arn" >/dev/null
  aws ecs wait services-stable --region "$region" --cluster "$cluster" --services "$service"
  rollback+=("aws ecs update-service --region $region --cluster $cluster --service $service --task-definition $previous")
done

echo "deploy: revision $revision is stable on every service."
echo "deploy: to roll back, run (the circuit breaker already rolls back a failed deployment by itself):"
printf '  %s\n' "${rollback[@]}"
