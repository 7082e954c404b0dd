#!/usr/bin/env bash
# Load on loopback, bounded in count and time: uploads through the gateway
# with wrk (POST /v1/images, the photo as multipart field "image"), then
# Detect on the detector alone with ghz, one after the other. Prints for each
# the requests, throughput, p50/p95/p99 latency and error counts (and, for
# services it started, their CPU time per request), and exits 1 when any
# request failed, so it can gate.
#
#   scripts/load_test.sh                        # starts the four binaries from build/
#   scripts/load_test.sh --duration=3 --requests=50 --concurrency=2
#   scripts/load_test.sh --gateway=127.0.0.1:8000 --detector=127.0.0.1:50051
#
# See --help for every flag, and README.md#pipeline-and-load for figures.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
upload_lua="$repo_root/scripts/load/upload.lua"

build_dir="$repo_root/build"
gateway=""
detector=""
photo=""
duration=10
requests=200
concurrency=4
timeout=30
wrk_bin=""
ghz_bin=""

usage() {
  cat <<EOF
Usage: scripts/load_test.sh [flags]

Without --gateway or --detector, starts stache-storage, stache-detector,
stache-overlay and stache-gateway from <build_dir>/bin on free ports of
127.0.0.1 (data in a temporary directory), runs wrk against the gateway, then
ghz against the detector, and stops them all again (also on Ctrl-C).
With --gateway and/or --detector, loads only the servers given, which must
already be running on loopback.

Each run stops after --requests responses or --duration seconds, whichever
comes first. For each it prints the requests, throughput, p50/p95/p99
latency and errors; for services it started, also the CPU time they used per
request, which other load on the machine does not inflate.

Flags (--flag=value or --flag value):
  --build_dir=DIR       build tree with bin/stache-* (default: $repo_root/build)
  --gateway=HOST:PORT   a running gateway to load with wrk instead of starting one;
                        HOST must be loopback (127.x.x.x, localhost, [::1])
  --detector=HOST:PORT  a running detector to load with ghz instead of starting one;
                        HOST must be loopback
  --photo=FILE          the photo uploaded and detected
                        (default: <build_dir>/testdata/grace_hopper.jpg)
  --duration=SECONDS    longest each run may take (default: $duration)
  --requests=N          most responses each run waits for (default: $requests)
  --concurrency=N       requests in flight at once: wrk connections, ghz workers
                        (default: $concurrency; at most --requests)
  --timeout=SECONDS     a request not answered within this counts as an error
                        (default: $timeout)
  --wrk=PATH            the wrk binary (default: wrk on PATH)
  --ghz=PATH            the ghz binary (default: ghz on PATH or in /usr/local/bin,
                        where scripts/setup.sh installs it)
  --help                this text

Exit status: 0 when every request succeeded, 1 when any failed (non-2xx or
socket errors from wrk, non-OK status codes from ghz) or a server or tool
failed, 2 for bad flags.
EOF
}

die_usage() { echo "load_test: $*" >&2; echo "Run scripts/load_test.sh --help for the flags." >&2; exit 2; }
fail() { echo "load_test: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  arg="$1"; shift
  case "$arg" in
    --help|-h) usage; exit 0 ;;
    --*=*) name="${arg%%=*}"; value="${arg#*=}" ;;
    --*) name="$arg"; [ $# -gt 0 ] || die_usage "$name needs a value"; value="$1"; shift ;;
    *) die_usage "unexpected argument: $arg" ;;
  esac
  case "$name" in
    --build_dir) build_dir="$value" ;;
    --gateway) gateway="$value" ;;
    --detector) detector="$value" ;;
    --photo) photo="$value" ;;
    --duration) duration="${value%s}" ;;
    --requests) requests="$value" ;;
    --concurrency) concurrency="$value" ;;
    --timeout) timeout="${value%s}" ;;
    --wrk) wrk_bin="$value" ;;
    --ghz) ghz_bin="$value" ;;
    *) die_usage "unknown flag: $name" ;;
  esac
done

for pair in "duration:$duration" "requests:$requests" "concurrency:$concurrency" \
            "timeout:$timeout"; do
  [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]] || die_usage "--${pair%%:*} must be a positive whole number (got '${pair#*:}')"
done
# ghz wants no more workers than requests.
[ "$concurrency" -le "$requests" ] || concurrency="$requests"
# Load stays on this machine.
require_loopback() {  # flag name, host:port
  [[ "$2" =~ ^(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\]):[0-9]+$ ]] ||
    die_usage "$1 must be a loopback address with a port, like 127.0.0.1:8000 (got '$2')"
}
[ -z "$gateway" ] || require_loopback --gateway "$gateway"
[ -z "$detector" ] || require_loopback --detector "$detector"
start_stack=0
[ -n "$gateway" ] || [ -n "$detector" ] || start_stack=1
run_wrk=0; run_ghz=0
{ [ $start_stack -eq 1 ] || [ -n "$gateway" ]; } && run_wrk=1
{ [ $start_stack -eq 1 ] || [ -n "$detector" ]; } && run_ghz=1

[ -n "$photo" ] || photo="$build_dir/testdata/grace_hopper.jpg"
[ -s "$photo" ] || fail "no photo at $photo (scripts/setup.sh extracts the test photos; or pass --photo)"
if [ $run_wrk -eq 1 ]; then
  [ -n "$wrk_bin" ] || wrk_bin="$(command -v wrk || true)"
  [ -x "$wrk_bin" ] || fail "wrk not found (scripts/setup.sh installs it; or pass --wrk)"
fi
if [ $run_ghz -eq 1 ]; then
  [ -n "$ghz_bin" ] || ghz_bin="$(command -v ghz || echo /usr/local/bin/ghz)"
  [ -x "$ghz_bin" ] || fail "ghz not found (scripts/setup.sh installs it; or pass --ghz)"
fi
bin_dir="$build_dir/bin"
if [ $start_stack -eq 1 ]; then
  for name in storage detector overlay gateway; do
    [ -x "$bin_dir/stache-$name" ] || fail "no $bin_dir/stache-$name: build first, or pass --build_dir"
  done
fi

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/stache-load.XXXXXX")"
pids=()       # the services started here
declare -A service_pid=()  # the same, by name
tool_pid=""   # wrk or ghz while one runs
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -z "$tool_pid" ] || kill -KILL "$tool_pid" 2>/dev/null || true
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # The services drain in --grace_period=2s; anything still there after
    # 10 s is killed.
    for _ in $(seq 100); do
      kill -0 "${pids[@]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts bin/stache-<name> on a free loopback port and waits for the log line
# naming the port, which it leaves in started_port.
start_service() {  # name, flags...
  local name="$1"; shift
  local log="$work_dir/$name.log"
  : >"$log"  # exists before the first look at it
  "$bin_dir/stache-$name" --host=127.0.0.1 --port=0 --grace_period=2s "$@" >"$log" 2>&1 &
  pids+=("$!")
  service_pid[$name]=$!
  local pid=$! line
  for _ in $(seq 600); do  # models load in about a second; allow 60
    line="$(grep -m1 -E '"msg":"serving( http)?"' "$log" || true)"
    if [ -n "$line" ]; then
      [[ "$line" =~ [{,]\"port\":([0-9]+) ]] && { started_port="${BASH_REMATCH[1]}"; return 0; }
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "load_test: stache-$name did not start; its log:" >&2
  tail -n 20 "$log" >&2
  return 1
}

if [ $start_stack -eq 1 ]; then
  # Only the gRPC servers have an admin port; nothing here scrapes it.
  start_service storage --admin_port=-1 --data_dir="$work_dir/storage"
  storage="127.0.0.1:$started_port"
  start_service detector --admin_port=-1
  detector="127.0.0.1:$started_port"
  start_service overlay --admin_port=-1
  overlay="127.0.0.1:$started_port"
  # Uploads come from loopback, which the upload rate limit exempts: the
  # figures are the service's, not the limiter's.
  start_service gateway --admin_port=-1 --detector_address="$detector" \
    --overlay_address="$overlay" --storage_address="$storage"
  gateway="127.0.0.1:$started_port"
  ready=0
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null --max-time 2 "http://$gateway/readyz" 2>/dev/null; then
      ready=1; break
    fi
    sleep 0.1
  done
  [ $ready -eq 1 ] || fail "the gateway at $gateway did not become ready (GET /readyz)"
fi

photo_desc="$(basename "$photo") ($(stat -c %s "$photo") bytes)"
bounds="concurrency $concurrency, at most $requests requests or ${duration} s"
error_total=0

# Prints the report lines for one run; adds its errors to error_total.
report() {  # title, requests, seconds, throughput, p50, p95, p99, errors, error detail
  printf '%s\n' "$1"
  printf '  requests    %s in %s s\n' "$2" "$3"
  printf '  throughput  %s req/s\n' "$4"
  printf '  latency     p50 %s ms  p95 %s ms  p99 %s ms\n' "$5" "$6" "$7"
  printf '  errors      %s (%s)\n' "$8" "$9"
  error_total=$((error_total + $8))
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() {  # pid
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  stat="${stat##*) }"  # fields from the 3rd on; the name may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${12} + ${13} ))
}

# With the services started here, the CPU time they use per request tells
# the cost of a request even when other work shares the cores and stretches
# the latencies. mark_cpu notes where they stand; print_cpu prints the line.
declare -A cpu_mark=()
mark_cpu() {
  local name
  for name in "${!service_pid[@]}"; do cpu_mark[$name]="$(cpu_ticks "${service_pid[$name]}")"; done
}
print_cpu() {  # requests, service names
  [ $start_stack -eq 1 ] && [ "$1" -gt 0 ] || return 0
  local requests="$1" name used=() ; shift
  for name in "$@"; do
    used+=("$name" $(( $(cpu_ticks "${service_pid[$name]}") - ${cpu_mark[$name]} )))
  done
  awk -v requests="$requests" -v tick_ms="$((1000 / $(getconf CLK_TCK)))" '
    BEGIN {
      for (i = 1; i < ARGC; i += 2) {
        ms = ARGV[i + 1] * tick_ms / requests
        total += ms
        detail = detail (i > 1 ? ", " : "") sprintf("%s %.1f", ARGV[i], ms)
      }
      printf "  cpu         %.1f ms per request (%s)\n", total, detail
    }' "${used[@]}"
}

# Starts a load tool in the background and waits for it. Both tools stop and
# still report on SIGINT, which they get once --duration has passed (ghz
# v0.120.0 ignores -n when given its own time limit, -x) or once
# upload.lua says wrk reached the cap (wrk would otherwise idle until its -d).
run_bounded() {  # output file, command...
  local out="$1"; shift
  : >"$out"  # exists before the first look at it
  "$@" >"$out" 2>&1 &
  tool_pid=$!
  local deadline=$(( ${EPOCHREALTIME/./} + duration * 1000000 ))
  while kill -0 "$tool_pid" 2>/dev/null; do
    if [ "${EPOCHREALTIME/./}" -ge "$deadline" ] || grep -q '^stache-load: cap reached' "$out"; then
      kill -INT "$tool_pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  local status=0
  wait "$tool_pid" || status=$?
  tool_pid=""
  return "$status"
}

if [ $run_wrk -eq 1 ]; then
  # One thread: upload.lua counts its cap per thread, and one event loop
  # keeps --concurrency connections busy at these rates. wrk's own -d is a
  # second later than the SIGINT, as a backstop.
  wrk_out="$work_dir/wrk.out"
  wrk_status=0
  mark_cpu
  run_bounded "$wrk_out" "$wrk_bin" -t1 -c"$concurrency" -d"$((duration + 1))s" \
    --timeout "${timeout}s" -s "$upload_lua" "http://$gateway" -- "$photo" "$requests" ||
    wrk_status=$?
  wrk_value() { sed -n "s/^stache-load: $1 //p" "$wrk_out" | tail -n 1; }
  if [ $wrk_status -ne 0 ] || [ -z "$(wrk_value requests)" ]; then
    cat "$wrk_out" >&2
    fail "wrk failed (exit status $wrk_status)"
  fi
  non_2xx="$(wrk_value non_2xx)"
  socket_errors=$(($(wrk_value connect_errors) + $(wrk_value read_errors) + \
                   $(wrk_value write_errors) + $(wrk_value timeouts)))
  report "gateway POST /v1/images (wrk): $bounds, photo $photo_desc" \
    "$(wrk_value requests)" "$(wrk_value seconds)" "$(wrk_value throughput)" \
    "$(wrk_value p50_ms)" "$(wrk_value p95_ms)" "$(wrk_value p99_ms)" \
    $((non_2xx + socket_errors)) \
    "non-2xx $non_2xx, connect $(wrk_value connect_errors), read $(wrk_value read_errors), write $(wrk_value write_errors), timeout $(wrk_value timeouts)"
  print_cpu "$(wrk_value requests)" gateway detector overlay storage
fi

if [ $run_ghz -eq 1 ]; then
  # The request as JSON, the image base64 as protobuf's JSON mapping wants;
  # the method's types come from the detector's server reflection.
  detect_json="$work_dir/detect.json"
  { printf '{"image":"'; base64 -w0 "$photo"; printf '"}'; } >"$detect_json"
  ghz_report="$work_dir/ghz.json"
  ghz_status=0
  mark_cpu
  # --duration-stop=wait: calls in flight at the SIGINT finish and count,
  # instead of being cut off and reported as Unavailable.
  run_bounded "$work_dir/ghz.out" "$ghz_bin" --insecure \
    --call stache.detector.v1.DetectorService/Detect --data-file "$detect_json" \
    -n "$requests" -c "$concurrency" --timeout "${timeout}s" --duration-stop=wait \
    --format json --output "$ghz_report" "$detector" || ghz_status=$?
  if [ $ghz_status -ne 0 ] || [ ! -s "$ghz_report" ]; then
    cat "$work_dir/ghz.out" >&2
    fail "ghz failed (exit status $ghz_status)"
  fi
  # ghz's JSON report: latencies in nanoseconds, counts by status code.
  # shellcheck disable=SC2046
  set -- $(python3 - "$ghz_report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
latency = {d["percentage"]: d["latency"] / 1e6 for d in r.get("latencyDistribution") or []}
codes = r.get("statusCodeDistribution") or {}
errors = sum(n for code, n in codes.items() if code != "OK")
detail = ",".join(f"{code}:{n}" for code, n in sorted(codes.items())) or "none"
print(r["count"], f'{r["total"] / 1e9:.3f}', f'{r["rps"]:.2f}',
      *(f"{latency.get(p, 0):.1f}" for p in (50, 95, 99)), errors, detail)
EOF
  )
  report "detector Detect (ghz): $bounds, photo $photo_desc" "$1" "$2" "$3" "$4" "$5" "$6" \
    "$7" "status codes ${8//,/, }"
  print_cpu "$1" detector
fi

if [ $error_total -ne 0 ]; then
  fail "$error_total requests failed"
fi
echo "load_test: ok, no errors"
