#!/usr/bin/env bash
# Deploys stache to ECS Fargate, first time or update:
#   1. creates the repositories stack (repositories.yaml) when it is missing
#      (to change it later: aws cloudformation deploy --template-file
#      deploy/ecs/repositories.yaml --stack-name stache-repositories),
#   2. builds the images from HEAD, tags them with the git revision and
#      pushes them (or, with --image-tag, uses images already pushed), and
#      checks that every image is in its repository,
#   3. first deployment (no service stack yet): creates the service stack
#      (cloudformation.yaml) with ImageTag set to that tag; CloudFormation
#      starts the backends, then the gateway, and waits until all are stable;
#   4. later deployments: service by service, backends first and the gateway
#      last, registers a copy of the running task definition with only the
#      image tag changed (the template stays the one definition), updates
#      the service and waits until its PRIMARY deployment, on the new task
#      definition, reaches rolloutState COMPLETED. A service that rolls back
#      (deployment circuit breaker), fails or times out stops the deployment
#      with a non-zero exit.
# Either way it ends by printing the commands that roll back the services it
# changed, gateway first.
#
#   deploy/ecs/deploy.sh --region eu-west-1 --create-parameters \
#     "VpcId=vpc-... PrivateSubnetIds=subnet-a,subnet-b PublicSubnetIds=subnet-c,subnet-d CertificateArn=arn:aws:acm:..."
#   deploy/ecs/deploy.sh --region eu-west-1                    # later revisions
#   deploy/ecs/deploy.sh --region eu-west-1 --image-tag 0123abcd4567   # an older one again
#
# Options: --stack stache, --repositories-stack stache-repositories,
# --cluster stache, --services "storage detector overlay gateway",
# --timeout 1800 (seconds per service); STACHE_DEPLOY_POLL_SECONDS (15).
# Needs aws, jq, and to build: docker and git.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
stack=stache
repositories_stack=stache-repositories
cluster=stache
services=(storage detector overlay gateway)
timeout=1800
poll="${STACHE_DEPLOY_POLL_SECONDS:-15}"
tag=""
create_parameters=()
usage="usage: $0 [--region R] [--image-tag T] [--create-parameters 'K=V ...'] [--stack S]
  [--repositories-stack S] [--cluster C] [--services '...'] [--timeout SECONDS]"
while [ $# -gt 0 ]; do
  case "$1" in
    --region) region="$2"; shift 2 ;;
    --image-tag) tag="$2"; shift 2 ;;
    --create-parameters) read -r -a create_parameters <<< "$2"; shift 2 ;;
    --stack) stack="$2"; shift 2 ;;
    --repositories-stack) repositories_stack="$2"; shift 2 ;;
    --cluster) cluster="$2"; shift 2 ;;
    --services) read -r -a services <<< "$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[ -n "$region" ] || { echo "deploy: set --region or AWS_REGION" >&2; exit 2; }
for tool in aws jq; do
  command -v "$tool" >/dev/null || { echo "deploy: $tool is missing" >&2; exit 2; }
done
aws() { command aws --region "$region" "$@"; }

if ! aws cloudformation describe-stacks --stack-name "$repositories_stack" >/dev/null 2>&1; then
  echo "deploy: creating the repositories stack $repositories_stack"
  aws cloudformation create-stack --stack-name "$repositories_stack" \
    --template-body file://deploy/ecs/repositories.yaml >/dev/null
  aws cloudformation wait stack-create-complete --stack-name "$repositories_stack"
fi

if [ -z "$tag" ]; then
  tag="$(git rev-parse --short=12 HEAD)"
  account="$(aws sts get-caller-identity --query Account --output text)"
  registry="$account.dkr.ecr.$region.amazonaws.com"
  echo "deploy: building and pushing revision $tag"
  deploy/build-images.sh --tag "$tag" --services "${services[*]}"
  aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
  for service in "${services[@]}"; do
    docker tag "stache-$service:$tag" "$registry/stache-$service:$tag"
    docker push "$registry/stache-$service:$tag"
  done
fi
for service in "${services[@]}"; do
  if ! aws ecr describe-images --repository-name "stache-$service" \
      --image-ids "imageTag=$tag" >/dev/null; then
    echo "deploy: stache-$service:$tag is not in ECR; push it first" >&2
    exit 1
  fi
done

if ! aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1; then
  if [ ${#create_parameters[@]} -eq 0 ]; then
    echo "deploy: stack $stack does not exist; create it with --create-parameters" \
      "'VpcId=... PrivateSubnetIds=... PublicSubnetIds=... CertificateArn=...'" >&2
    exit 2
  fi
  if [ "${#services[@]}" -ne 4 ]; then
    echo "deploy: a first deployment needs all four images; leave out --services" >&2
    exit 2
  fi
  echo "deploy: creating stack $stack with images $tag (about 15-25 minutes)"
  if ! aws cloudformation deploy --stack-name "$stack" \
      --template-file deploy/ecs/cloudformation.yaml --capabilities CAPABILITY_NAMED_IAM \
      --parameter-overrides "ImageTag=$tag" "RepositoriesStack=$repositories_stack" \
      "${create_parameters[@]}"; then
    echo "deploy: creating $stack failed and CloudFormation rolled it back; see" \
      "aws cloudformation describe-stack-events --region $region --stack-name $stack" >&2
    exit 1
  fi
  url="$(aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='Url'].OutputValue" --output text)"
  echo "deploy: stack $stack is up: $url"
  echo "deploy: to remove it: aws cloudformation delete-stack --region $region --stack-name $stack"
  exit 0
fi

# Waits until the service's PRIMARY deployment runs `arn` with rolloutState
# COMPLETED. Fails when the PRIMARY deployment is another task definition
# (the circuit breaker rolled back), FAILED, or still running at the timeout.
wait_for_rollout() {
  local service="$1" arn="$2" deadline=$((SECONDS + timeout)) line primary state reason
  while :; do
    line="$(aws ecs describe-services --cluster "$cluster" --services "$service" \
      --query 'services[0].deployments[?status==`PRIMARY`] | [0].[taskDefinition,rolloutState,rolloutStateReason]' \
      --output text)"
    IFS=$'\t' read -r primary state reason <<< "$line"
    if [ "$primary" != "$arn" ]; then
      echo "deploy: $service rolled back to $primary: $reason" >&2
      return 1
    fi
    case "$state" in
      COMPLETED) echo "deploy: $service is on $arn"; return 0 ;;
      FAILED) echo "deploy: $service failed: $reason" >&2; return 1 ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "deploy: $service timed out after ${timeout}s in rolloutState $state" >&2
      return 1
    fi
    sleep "$poll"
  done
}

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
rollback=()  # newest first, so the gateway's is printed first
result=0
for service in "${services[@]}"; do
  previous="$(aws ecs describe-services --cluster "$cluster" --services "$service" \
    --query 'services[0].taskDefinition' --output text)"
  aws ecs describe-task-definition --task-definition "$previous" --query taskDefinition \
    --output json > "$rendered/$service-previous.json"
  # The running definition with the new image tag; the fields ECS adds on
  # registration are dropped, so register-task-definition takes it back.
  jq --arg tag "$tag" '
    del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
        .registeredAt, .registeredBy, .deregisteredAt)
    | .containerDefinitions |= map(
        .image |= sub(":[^:/]+$"; "") + ":" + $tag
        | if .dockerLabels["org.opencontainers.image.revision"]
          then .dockerLabels["org.opencontainers.image.revision"] = $tag else . end)' \
    "$rendered/$service-previous.json" > "$rendered/$service.json"
  arn="$(aws ecs register-task-definition --cli-input-json "file://$rendered/$service.json" \
    --query 'taskDefinition.taskDefinitionArn' --output text)"
  echo "deploy: $service -> $arn (was $previous)"
  rollback=("aws ecs update-service --region $region --cluster $cluster --service $service --task-definition $previous" "${rollback[@]}")
  aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$arn" >/dev/null
  if ! wait_for_rollout "$service" "$arn"; then
    result=1
    break
  fi
done

if [ "$result" -eq 0 ]; then
  echo "deploy: $tag is rolled out on every service."
  echo "deploy: stack updates must keep it: pass ImageTag=$tag to aws cloudformation deploy."
else
  echo "deploy: FAILED; services after it were not changed." >&2
fi
echo "deploy: to roll back what this run changed, run in this order:"
printf '  %s\n' "${rollback[@]}"
exit "$result"
