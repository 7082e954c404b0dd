#!/usr/bin/env bash
# Builds the images stache-{detector,overlay,storage,gateway,init,minio,lb}:<tag> from the
# committed HEAD (git archive, so the images are exactly a revision), with
# OCI version and revision labels that GetInfo reports too.
#
#   deploy/build-images.sh                       # tag = project version
#   deploy/build-images.sh --version 0.2.0 --tag 0.2.0
#
# Builds debian:bookworm(-slim) locally first when they are missing.
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
commit="$(git rev-parse HEAD)"  # every image from the same tree, even if HEAD moves

deploy/base/build-base-images.sh
# The MinIO stage fetches Go modules over HTTPS: where a TLS-inspecting proxy
# sits in between, its CA is among this machine's locally added ones.
extra_ca="${STACHE_EXTRA_CA_CERTIFICATES:-$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)}"
for service in "${services[@]}"; do
  echo "build-images: stache-$service:$tag (version $version, revision $revision)"
  git archive --format=tar "$commit" | docker build --quiet -f deploy/Dockerfile \
    --target "$service" \
    --build-arg STACHE_VERSION="$version" \
    --build-arg GIT_REVISION="$revision" \
    --build-arg EXTRA_CA_CERTIFICATES="$extra_ca" \
    -t "stache-$service:$tag" - >/dev/null
  # A shared library missing from the runtime stage fails here, not at run time.
  missing="$(docker run --rm --entrypoint sh "stache-$service:$tag" -c \
    'ldd /usr/local/bin/stache-* | grep "not found" || true')"
  if [ -n "$missing" ]; then
    echo "build-images: stache-$service:$tag lacks shared libraries:" >&2
    echo "$missing" >&2
    exit 1
  fi
done
echo "build-images: done"
