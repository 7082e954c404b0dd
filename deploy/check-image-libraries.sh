#!/usr/bin/env bash
# Fails when a stache binary in one of the images cannot resolve a shared
# library: a library missing from the runtime stage fails the build, not the
# first start. deploy/build-images.sh and the previous release's image build
# (tests/docker/build_release_images.sh) both run it.
#
#   deploy/check-image-libraries.sh stache-gateway:0.2.0 stache-storage:0.2.0
set -euo pipefail
for image in "$@"; do
  missing="$(docker run --rm --entrypoint sh "$image" -c \
    'ldd /usr/local/bin/stache-* | grep "not found" || true')"
  if [ -n "$missing" ]; then
    echo "check-image-libraries: $image lacks shared libraries:" >&2
    echo "$missing" >&2
    exit 1
  fi
done
