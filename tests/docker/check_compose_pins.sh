#!/usr/bin/env bash
# What the Compose stack runs agrees with what the rest of the project pins:
# the MinIO the storage tests run (scripts/setup.sh) is the MinIO Compose
# builds (deploy/Dockerfile), and compose.yaml's default image tag is the
# project version that deploy/build-images.sh tags images with.
set -euo pipefail
cd "$(dirname "$0")/../.."
failed=0
pin() { grep -o 'github.com/minio/minio@[A-Za-z0-9.-]*' "$1" | sort -u; }
setup="$(pin scripts/setup.sh)"
dockerfile="$(pin deploy/Dockerfile)"
if [ -z "$setup" ] || [ "$setup" != "$dockerfile" ]; then
  echo "MinIO pins differ: scripts/setup.sh has '${setup:-none}'," \
       "deploy/Dockerfile has '${dockerfile:-none}'; set both to the same version" >&2
  failed=1
else
  echo "MinIO pinned at ${setup#*@} in both"
fi
version="$(sed -n 's/^project(stache VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
tags="$(grep -o 'STACHE_TAG:-[^}]*' deploy/compose.yaml | sort -u)"
if [ "$tags" != "STACHE_TAG:-$version" ]; then
  echo "deploy/compose.yaml's default image tag is '${tags#STACHE_TAG:-}', the project" \
       "version is $version: set \${STACHE_TAG:-$version} everywhere in it" >&2
  failed=1
else
  echo "compose.yaml's default tag is the project version, $version"
fi
exit $failed
