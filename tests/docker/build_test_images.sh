#!/usr/bin/env bash
# ctest fixture for the docker tests: builds HEAD's images once per run,
# every stache service and the stack's init, MinIO and load balancer, as
# stache-*:test-head. The previous release's services, for the rolling
# upgrade and the mixed-version tests, come from build_release_images.sh
# (the docker_release_images fixture).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
  echo "build_test_images: no Docker daemon reachable; the docker tests will skip"
  exit 0
fi
deploy/build-images.sh --tag test-head
