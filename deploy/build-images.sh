#!/usr/bin/env bash
# Builds the images stache-{detector,overlay,storage,gateway,init,minio,lb}:<tag>
# with the `build:` sections of deploy/compose.yaml (so this and
# `docker compose up --build` build the same way), from the committed HEAD
# (git archive into a scratch directory, so an image is exactly a revision),
# with OCI version and revision labels that GetInfo reports too.
#
#   deploy/build-images.sh                       # tag = project version
#   deploy/build-images.sh --version 0.2.0 --tag 0.2.0 --services "detector"
#
# Provides debian:bookworm(-slim) first when they are missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
version="$(sed -n 's/^project(stache VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
tag=""
services=(detector overlay storage gateway init minio lb)
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --services) read -r -a services <<< "$2"; shift 2 ;;
    *) echo "usage: $0 [--version V] [--tag T] [--services 'detector overlay']" >&2; exit 2 ;;
  esac
done
tag="${tag:-$version}"
revision="$(git rev-parse --short=12 HEAD)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
git archive "$(git rev-parse HEAD)" | tar -x -C "$tree"

deploy/base/build-base-images.sh
# The MinIO stage fetches Go modules over HTTPS: where a TLS-inspecting proxy
# sits in between, its CA is among this machine's locally added ones.
extra_ca="${STACHE_EXTRA_CA_CERTIFICATES:-$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)}"
echo "build-images: ${services[*]} as :$tag (version $version, revision $revision)"
STACHE_TAG="$tag" STACHE_VERSION="$version" GIT_REVISION="$revision" \
  STACHE_EXTRA_CA_CERTIFICATES="$extra_ca" \
  docker-compose -p stache-build -f "$tree/deploy/compose.yaml" build --quiet "${services[@]}"

for service in "${services[@]}"; do
  "$repo_root/deploy/check-image-libraries.sh" "stache-$service:$tag"
  size="$(docker image inspect -f '{{.Size}}' "stache-$service:$tag")"
  echo "build-images: stache-$service:$tag $((size / 1000000)) MB"
done
echo "build-images: done"
