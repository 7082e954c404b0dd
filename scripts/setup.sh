#!/usr/bin/env bash
# Installs everything stache needs to build, run and test, on a fresh Debian
# bookworm machine. Idempotent: a second run only checks.
#
#   scripts/setup.sh                   # packages, Go tools, test photos
#   scripts/setup.sh --build-deps-only # only what compiling needs (Docker build stage)
#
# Debian packages come from the configured apt mirror; Go tools from the Go
# module proxy at pinned versions; test photos are extracted from Debian .deb
# files into build/testdata (never committed).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
testdata_dir="${STACHE_TESTDATA_DIR:-$repo_root/build/testdata}"
build_deps_only=0
[ "${1:-}" = "--build-deps-only" ] && build_deps_only=1

# Build toolchain and libraries. Each one is explained in README.md#dependencies.
build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopencv-dev opencv-data libdlib-dev libdlib-data libblas-dev liblapack-dev
  libsqlite3-dev libcurl4-openssl-dev libssl-dev libpugixml-dev
  libcpp-httplib-dev libboost1.81-dev nlohmann-json3-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev
  golang-github-gogo-googleapis-dev
)
# Tools that only the tests, the local run and the deploy scripts use.
tool_packages=(
  wrk chromium chromium-driver python3-selenium curl clang clang-format libclang-rt-14-dev
  debootstrap docker-compose python3-botocore python3-yaml openssl jq
)
apt_packages=("${build_packages[@]}")
[ $build_deps_only -eq 1 ] || apt_packages+=("${tool_packages[@]}")

# Go tools, pinned. Bump deliberately.
go_tools=(
  "github.com/bufbuild/buf/cmd/buf@v1.75.0"
  "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"
  # gRPC load against one service (scripts/load_test.sh).
  "github.com/bojand/ghz/cmd/ghz@v0.120.0"
  # S3 server for the storage tests. MinIO's RELEASE.<date> tags are not
  # semver, so the module proxy serves pseudo-versions only: this one is what
  # it resolved as latest (commit 7aac2a2c5b7c of 2026-02-12).
  "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $build_deps_only -eq 1 ]; then
  echo "setup: build dependencies ok"
  exit 0
fi

# Go tools go to /usr/local/bin so that every shell, CMake and ctest find them.
export PATH="/usr/local/go/bin:$PATH"
tool_bin=/usr/local/bin
for spec in "${go_tools[@]}"; do
  name="${spec%@*}"; name="${name##*/}"; version="${spec##*@}"
  stamp="$tool_bin/.$name.version"
  if [ -x "$tool_bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then continue; fi
  echo "setup: go install $spec"
  as_root env GOBIN="$tool_bin" GOFLAGS=-mod=mod go install "$spec"
  echo "$version" | as_root tee "$stamp" >/dev/null
done

# Test photos with faces (and without) from Debian packages, extracted without
# installing the packages.
extract_from_deb() {  # package, then paths inside it; each lands in $target_dir
  local pkg="$1"; shift
  local needed=()
  for inner in "$@"; do [ -s "$target_dir/$(basename "$inner")" ] || needed+=("./$inner"); done
  [ ${#needed[@]} -eq 0 ] && return 0
  local tmp; tmp="$(mktemp -d)"
  # As root, apt's _apt sandbox user cannot write to a private temp dir.
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb | tar -x -C "$tmp" "${needed[@]}"
  mkdir -p "$target_dir"
  for inner in "${needed[@]}"; do cp "$tmp/$inner" "$target_dir/"; done
  rm -rf "$tmp"
}
target_dir="$testdata_dir"
mkdir -p "$testdata_dir"
skimage=usr/lib/python3/dist-packages/skimage/data
dlib_examples=usr/share/doc/libdlib19.1/examples
extract_from_deb python-matplotlib-data usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg \
  usr/share/matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png
# Faces, and photos without any (detector/testing/group_photos.h): the
# group-photo test set is composited from these at test time.
extract_from_deb python3-skimage "$skimage"/astronaut.png "$skimage"/coffee.png \
  "$skimage"/chelsea.png "$skimage"/brick.png "$skimage"/cell.png "$skimage"/clock_motion.png \
  "$skimage"/coins.png "$skimage"/color.png "$skimage"/grass.png "$skimage"/gravel.png \
  "$skimage"/horse.png "$skimage"/hubble_deep_field.jpg "$skimage"/ihc.png "$skimage"/logo.png \
  "$skimage"/moon.png "$skimage"/motorcycle_left.png "$skimage"/page.png "$skimage"/retina.jpg \
  "$skimage"/rocket.jpg "$skimage"/text.png
extract_from_deb libdlib19.1 "$dlib_examples"/faces/dogs.jpg \
  "$dlib_examples"/mmod_cars_test_image.jpg "$dlib_examples"/mmod_cars_test_image2.jpg
# Real group photos (PASCAL VOC) with hand-drawn face boxes.
target_dir="$testdata_dir/dlib_faces"
extract_from_deb libdlib19.1 "$dlib_examples"/faces/testing.xml "$dlib_examples"/faces/training.xml \
  "$dlib_examples"/faces/2008_002470.jpg "$dlib_examples"/faces/2008_002506.jpg \
  "$dlib_examples"/faces/2008_004176.jpg "$dlib_examples"/faces/2008_007676.jpg \
  "$dlib_examples"/faces/2009_004587.jpg "$dlib_examples"/faces/2007_007763.jpg \
  "$dlib_examples"/faces/2008_002079.jpg "$dlib_examples"/faces/2008_001009.jpg \
  "$dlib_examples"/faces/2008_001322.jpg
echo "setup: ok"
