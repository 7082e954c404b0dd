#!/usr/bin/env bash
# Builds the stache services of the previous release, for the mixed-version
# Compose test: stache-{gateway,detector,overlay,storage}:release-<version>,
# from the tree of the commit that froze proto/releases/<version>.json
# (git archive), with THAT commit's own Dockerfile. Nothing of HEAD goes
# into them, so they are the binaries that release shipped.
#
#   tests/docker/build_release_images.sh          # the previous release
#   tests/docker/build_release_images.sh 0.2.0    # a given one
#   tests/docker/build_release_images.sh --which  # prints "0.2.0 168ddb59732e"
#
# The previous release is the newest file in proto/releases/ that an earlier
# commit than HEAD froze (HEAD freezing one is cutting it: it is HEAD). The
# commit is found from history, the way proto_contract_test finds it (the
# commit that added the file), because CI's clones carry no tags. Skips the
# build when every image already carries that commit's revision label, so a
# rerun costs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "build_release_images: a shallow clone lacks the commits that froze the" \
       "releases; fetch the history (git fetch --unshallow)" >&2
  exit 1
fi

which=0
if [ "${1:-}" = "--which" ]; then
  which=1
  shift
fi
head="$(git rev-parse HEAD)"
froze() {
  git log --no-renames --diff-filter=A --format=%H -- "proto/releases/$1.json" | tail -1
}
release="${1:-}"
if [ -z "$release" ]; then
  for file in $(ls proto/releases/*.json | sort -V -r); do
    candidate="$(basename "$file" .json)"
    commit="$(froze "$candidate")"
    if [ -n "$commit" ] && [ "$commit" != "$head" ]; then
      release="$candidate"
      break
    fi
  done
  [ -n "$release" ] || { echo "build_release_images: no release before HEAD" >&2; exit 1; }
fi
commit="$(froze "$release")"
[ -n "$commit" ] || { echo "build_release_images: no commit added $release.json" >&2; exit 1; }
revision="$(git rev-parse --short=12 "$commit")"
tag="release-$release"
if [ $which -eq 1 ]; then
  echo "$release $revision"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "build_release_images: no Docker daemon reachable; the docker tests will skip"
  exit 0
fi
services=(gateway detector overlay storage)

label_of() {
  docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' \
    "$1" 2>/dev/null || true
}
missing=()
for service in "${services[@]}"; do
  [ "$(label_of "stache-$service:$tag")" = "$revision" ] || missing+=("$service")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "release-images: $tag (revision $revision) exist"
  exit 0
fi

# The release's tree, its Dockerfile and its build arguments, as its own
# deploy/build-images.sh passed them (one `docker build --target` per
# service, version from its CMakeLists.txt, revision = its commit). One fix,
# which changes no content: releases up to 0.2.0 committed scripts/setup.sh
# without its executable bit (restored in 371813c), so their own
# Dockerfile's `RUN /src/scripts/setup.sh` fails with "Permission denied".
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git archive "$commit" | tar -x -C "$scratch"
chmod +x "$scratch/scripts/setup.sh"
version="$(sed -n 's/^project(stache VERSION \([0-9.]*\).*/\1/p' "$scratch/CMakeLists.txt")"
if [ "$version" != "$release" ]; then
  echo "build_release_images: $revision says version '$version', not $release" >&2
  exit 1
fi

deploy/base/build-base-images.sh
extra_ca="${STACHE_EXTRA_CA_CERTIFICATES:-$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)}"
start=$SECONDS
echo "release-images: building ${missing[*]} of $release from $revision"
for service in "${missing[@]}"; do
  docker build --quiet -f "$scratch/deploy/Dockerfile" --target "$service" \
    --build-arg STACHE_VERSION="$version" --build-arg GIT_REVISION="$revision" \
    --build-arg EXTRA_CA_CERTIFICATES="$extra_ca" \
    -t "stache-$service:$tag" "$scratch" >/dev/null
  # HEAD's check, as build-images.sh runs it.
  deploy/check-image-libraries.sh "stache-$service:$tag"
  echo "release-images: stache-$service:$tag after $((SECONDS - start)) s"
done
echo "release-images: $tag (revision $revision) built in $((SECONDS - start)) s"
