#!/usr/bin/env bash
# Provides the Debian base images that deploy/Dockerfile starts from: pulled
# from the registry where one answers, otherwise (air-gapped sites, this
# project's CI) built by debootstrap from the Debian mirror this machine's apt
# already uses and `docker import`ed, tagged debian:bookworm and
# debian:bookworm-slim so the Dockerfile is the same either way.
#
#   deploy/base/build-base-images.sh          # skips tags that exist
#   deploy/base/build-base-images.sh --force  # builds them even if a pull works
set -euo pipefail

force=0
[ "${1:-}" = "--force" ] && force=1
suite=bookworm

# The mirror comes from apt's own configuration, never a hard-coded host.
mirror_from_apt() {
  local uri
  uri=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
          awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' |
          grep -v -- '-security' | head -n1 || true)
  fi
  [ -n "$uri" ] || { echo "build-base-images: no Debian mirror in apt's sources" >&2; exit 1; }
  echo "$uri"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if [ $force -eq 0 ] && have_image "debian:$suite" && have_image "debian:$suite-slim"; then
  echo "build-base-images: debian:$suite and debian:$suite-slim exist"
  exit 0
fi

# A registry that answers wins; one that does not gets a minute, not a hang.
if [ $force -eq 0 ] &&
   timeout 120 docker pull --quiet "debian:$suite" >/dev/null 2>&1 &&
   timeout 120 docker pull --quiet "debian:$suite-slim" >/dev/null 2>&1; then
  echo "build-base-images: pulled debian:$suite and debian:$suite-slim"
  exit 0
fi
echo "build-base-images: no registry answered; building with debootstrap"

command -v debootstrap >/dev/null || {
  echo "build-base-images: debootstrap is missing (scripts/setup.sh installs it)" >&2; exit 1; }
mirror="$(mirror_from_apt)"
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

echo "build-base-images: debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/dev/null
# The image's apt uses the same mirror, plus updates and security.
security="${mirror%/debian}/debian-security"
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
# Keep images small: no apt caches; the slim variant also drops docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "debian:$suite" >/dev/null
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
SLIM
tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "debian:$suite-slim" >/dev/null
echo "build-base-images: tagged debian:$suite and debian:$suite-slim"
