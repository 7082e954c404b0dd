#!/usr/bin/env bash
# ctest fixture for the docker tests: builds the images once per run, an
# "old" set (with the stack's init, MinIO and load balancer) and a "new"
# version of every stache service for the rolling-update and mixed-version
# tests. Both are HEAD: they differ in their version label only.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
  echo "build_test_images: no Docker daemon reachable; the docker tests will skip"
  exit 0
fi
deploy/build-images.sh --tag test-old
deploy/build-images.sh --version 0.1.1-rolling --tag test-new \
  --services "gateway detector overlay storage"
