#!/usr/bin/env bash
# Runs the whole suite as local processes on embedded defaults:
#   storage :50053 (data in ./data/storage), detector :50051, overlay :50052,
#   gateway http://localhost:8000
# Ctrl-C or SIGTERM stops every service gracefully; the script exits 0 when
# they all did.
#
#   scripts/run_local.sh [build-dir]
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$repo_root/build}/bin"
data_dir="${STACHE_DATA_DIR:-$repo_root/data}"
mkdir -p "$data_dir/storage"

pids=()
start() {
  local name="$1"; shift
  "$bin/stache-$name" "$@" &
  pids+=("$!")
}
stop() {
  trap - INT TERM
  echo "run_local: stopping ${#pids[@]} services" >&2
  kill -TERM "${pids[@]}" 2>/dev/null
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  exit "$status"
}
trap stop INT TERM

start storage
start detector
start overlay
start gateway
echo "run_local: stache is up at http://localhost:8000 (Ctrl-C stops it)" >&2

# If any service dies on its own, stop the rest and fail.
wait -n "${pids[@]}"
echo "run_local: a service exited; stopping the others" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit 1
