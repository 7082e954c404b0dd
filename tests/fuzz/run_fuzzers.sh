#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own tree (<build>/fuzz)
# and runs each for a bounded time on a copy of its seed corpus. Fails on
# any crash, leak, sanitizer report or timeout.
#
#   tests/fuzz/run_fuzzers.sh [BUILD_DIR]        # 30 s per target
#   STACHE_FUZZ_SECONDS=3600 tests/fuzz/run_fuzzers.sh build
#   STACHE_FUZZERS="object_key_fuzzer" tests/fuzz/run_fuzzers.sh build
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${1:-$source_dir/build}"
fuzz_dir="$build_dir/fuzz"
seconds="${STACHE_FUZZ_SECONDS:-30}"
fuzzers="${STACHE_FUZZERS:-image_header_fuzzer jpeg_coefficient_editor_fuzzer object_key_fuzzer gateway_http_fuzzer upload_body_fuzzer}"

command -v clang++ >/dev/null || { echo "run_fuzzers: clang++ not found (scripts/setup.sh installs it)"; exit 1; }

# Debian's libraries are built with g++; clang links them against the same
# libstdc++. -Werror stays off: this tree exists to run the fuzzers, and
# clang warns about things g++ does not.
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$source_dir" -B "$fuzz_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTACHE_FUZZ=ON -DSTACHE_WERROR=OFF \
    -DSTACHE_SANITIZE=address,fuzzer-no-link >"$fuzz_dir.configure.log" 2>&1 ||
    { cat "$fuzz_dir.configure.log"; exit 1; }
fi
# shellcheck disable=SC2086
cmake --build "$fuzz_dir" -j"${STACHE_FUZZ_JOBS:-2}" --target $fuzzers make_image_seeds

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
failed=()
for fuzzer in $fuzzers; do
  name="${fuzzer%_fuzzer}"
  corpus="$fuzz_dir/corpus/$name"
  rm -rf "$corpus" && mkdir -p "$corpus" "$fuzz_dir/artifacts/$name"
  # Committed seeds where there are any; generated ones for the images.
  if [ -d "$source_dir/tests/fuzz/corpus/$name" ]; then
    cp "$source_dir/tests/fuzz/corpus/$name"/* "$corpus"/
  fi
  [ "$name" != image_header ] || "$fuzz_dir/bin/make_image_seeds" "$corpus"
  [ "$name" != jpeg_coefficient_editor ] ||
    "$fuzz_dir/bin/make_image_seeds" "$corpus" --jpeg-editor
  echo "run_fuzzers: $fuzzer for ${seconds}s"
  if ! "$fuzz_dir/bin/$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$fuzz_dir/artifacts/$name/" \
      "$corpus" 2>"$fuzz_dir/$name.log"; then
    tail -60 "$fuzz_dir/$name.log"
    echo "run_fuzzers: $fuzzer FAILED; reproducer in $fuzz_dir/artifacts/$name/"
    failed+=("$name")
  else
    grep -E "^stat::number_of_executed_units|^Done|INFO: seed corpus" "$fuzz_dir/$name.log" | tail -3
  fi
done
# Each failure's cause again, last, where a shortened CI log still shows it.
for name in "${failed[@]}"; do
  echo "run_fuzzers: why ${name}_fuzzer failed:"
  grep -E "ERROR: |SUMMARY: |^    #[0-9]+ |_fuzzer: " "$fuzz_dir/$name.log" | head -25
done
[ ${#failed[@]} -eq 0 ]
