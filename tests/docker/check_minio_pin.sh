#!/usr/bin/env bash
# The MinIO the storage tests run (scripts/setup.sh) is the MinIO the Compose
# stack runs (deploy/Dockerfile): one pinned version, bumped in both places.
set -euo pipefail
cd "$(dirname "$0")/../.."
pin() { grep -o 'github.com/minio/minio@[A-Za-z0-9.-]*' "$1" | sort -u; }
setup="$(pin scripts/setup.sh)"
dockerfile="$(pin deploy/Dockerfile)"
if [ -z "$setup" ] || [ "$setup" != "$dockerfile" ]; then
  echo "MinIO pins differ: scripts/setup.sh has '${setup:-none}'," \
       "deploy/Dockerfile has '${dockerfile:-none}'; set both to the same version" >&2
  exit 1
fi
echo "MinIO pinned at ${setup#*@} in both"
