#!/usr/bin/env bash
# Hostile HTTP clients against the four real binaries (the ones `make run`
# starts), on loopback, bounded: three attacks one after the other, each for
# at most 60 s, while a normal client keeps uploading a photo:
#   slow       clients that trickle their head or body, a byte every 5 s
#   chunked    clients posting 300 MB chunked bodies to /v1/images and /v1/styles
#   flood      many times more connections than --http_max_connections, each
#              sending half a head and then nothing
# For each attack it prints the peak RSS of every process, the normal
# client's requests, failures and p50/p99 latency, and checks the goals:
# gateway peak RSS under 300 MB, no failed upload, p99 under 2 s. Exits 1
# when a goal is missed, so it can gate.
#
#   scripts/hostile_test.sh                             # 60 s per attack
#   scripts/hostile_test.sh --duration=5 --slow_clients=40 --flood_connections=300
#
# See --help for every flag.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$repo_root/build"
photo=""
duration=60
slow_clients=200
chunked_clients=8
flood_connections=2000
attacks="slow chunked flood"

usage() {
  cat <<EOF
Usage: scripts/hostile_test.sh [flags]

Starts stache-storage, stache-detector, stache-overlay and stache-gateway
from <build_dir>/bin with their default flags (as scripts/run_local.sh
does) on free ports of 127.0.0.1, data in a temporary directory; runs each
attack while one normal client uploads a photo again and again; stops them
all (also on Ctrl-C).

Flags (--flag=value):
  --build_dir=DIR            build tree with bin/stache-* (default: $repo_root/build)
  --photo=FILE               the normal client's photo
                             (default: <build_dir>/testdata/grace_hopper.jpg)
  --duration=SECONDS         length of each attack, at most 60 (default: $duration)
  --attacks="A B"            which of: slow chunked flood (default: all)
  --slow_clients=N           slow clients at once (default: $slow_clients)
  --chunked_clients=N        chunked 300 MB uploads at once (default: $chunked_clients)
  --flood_connections=N      connections the flood holds open (default: $flood_connections)
  --help                     this text

Exit status: 0 when every goal was met, 1 when one was missed or a service
failed, 2 for bad flags.
EOF
}

die_usage() { echo "hostile_test: $*" >&2; echo "Run scripts/hostile_test.sh --help for the flags." >&2; exit 2; }
fail() { echo "hostile_test: $*" >&2; exit 1; }

is_count() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }

for arg in "$@"; do
  case "$arg" in
    --help|-h) usage; exit 0 ;;
    --build_dir=*) build_dir="${arg#*=}" ;;
    --photo=*) photo="${arg#*=}" ;;
    --duration=*) duration="${arg#*=}" ;;
    --attacks=*) attacks="${arg#*=}" ;;
    --slow_clients=*) slow_clients="${arg#*=}" ;;
    --chunked_clients=*) chunked_clients="${arg#*=}" ;;
    --flood_connections=*) flood_connections="${arg#*=}" ;;
    *) die_usage "unexpected argument: $arg" ;;
  esac
done
for value in "$duration" "$slow_clients" "$chunked_clients" "$flood_connections"; do
  is_count "$value" || die_usage "'$value' is not a positive whole number"
done
[ "$duration" -le 60 ] || die_usage "--duration is at most 60 seconds"
for attack in $attacks; do
  case "$attack" in slow|chunked|flood) ;; *) die_usage "unknown attack: $attack" ;; esac
done
bin="$build_dir/bin"
[ -n "$photo" ] || photo="$build_dir/testdata/grace_hopper.jpg"
[ -f "$photo" ] || fail "no photo at $photo (scripts/setup.sh extracts it; or pass --photo)"
for name in storage detector overlay gateway; do
  [ -x "$bin/stache-$name" ] || fail "no $bin/stache-$name: build first"
done
command -v python3 >/dev/null || fail "python3 not found"

work_dir="$(mktemp -d)"
pids=()
names=()
cleanup() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
storage_port=$(free_port); detector_port=$(free_port); overlay_port=$(free_port)
gateway_port=$(free_port); gateway_admin_port=$(free_port)

start() {
  local name="$1"; shift
  STACHE_ADMIN_PORT=0 "$bin/stache-$name" --host=127.0.0.1 "$@" >"$work_dir/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}
start storage "--port=$storage_port" "--data_dir=$work_dir/storage"
start detector "--port=$detector_port"
start overlay "--port=$overlay_port"
start gateway "--port=$gateway_port" "--admin_port=$gateway_admin_port" \
  "--detector_address=127.0.0.1:$detector_port" \
  "--overlay_address=127.0.0.1:$overlay_port" "--storage_address=127.0.0.1:$storage_port"

pid_list=""
for i in "${!pids[@]}"; do pid_list+="${names[$i]}=${pids[$i]},"; done

echo "hostile_test: gateway http://127.0.0.1:$gateway_port, ${duration}s per attack: $attacks"
status=0
python3 - "$gateway_port" "$photo" "$duration" "$pid_list" "$attacks" \
  "$slow_clients" "$chunked_clients" "$flood_connections" "$work_dir" "$gateway_admin_port" \
  <<'PY' || status=$?
import http.client, os, random, select, socket, sys, threading, time, uuid

port = int(sys.argv[1]); photo = open(sys.argv[2], "rb").read()
duration = float(sys.argv[3])
pids = dict(item.split("=") for item in sys.argv[4].split(",") if item)
attacks = sys.argv[5].split()
slow_clients, chunked_clients, flood_connections = map(int, sys.argv[6:9])
work_dir = sys.argv[9]
admin_port = int(sys.argv[10])  # the gateway's /metrics
HOST = "127.0.0.1"
GOAL_RSS = 300e6; GOAL_P99 = 2.0

def alive():
    return all(os.path.exists(f"/proc/{pid}") for pid in pids.values())

def get(path, timeout=5):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()

deadline = time.time() + 60
while get("/readyz") != 200:
    if time.time() > deadline or not alive():
        for name in pids:
            print(f"--- {name} log ---\n" + open(f"{work_dir}/{name}.log").read()[-2000:])
        sys.exit("hostile_test: the services did not become ready")
    time.sleep(0.2)

def memory(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

def reset_peaks():
    for pid in pids.values():
        try:  # "5" resets VmHWM (Linux 4.0+); sampling covers it otherwise
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

boundary = "----hostile" + uuid.uuid4().hex
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()

def normal_client(stop, latencies, failures):
    while not stop.is_set():
        start = time.time()
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            connection.request("POST", "/v1/images", body,
                               {"Content-Type": f"multipart/form-data; boundary={boundary}"})
            response = connection.getresponse(); response.read()
            if response.status != 201:
                failures.append(f"HTTP {response.status}")
        except OSError as error:
            failures.append(type(error).__name__)
        finally:
            connection.close()
        latencies.append(time.time() - start)
        stop.wait(0.05)

def connect():
    s = socket.socket(); s.settimeout(5)
    s.connect((HOST, port)); s.settimeout(None)
    return s

def slow_attack(stop):
    clients = []  # [socket, script, position, next send time]
    def open_one(i):
        s = connect()
        if i % 2:
            s.sendall(b"POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                      b"Content-Length: 1000000\r\n\r\n")
            script = b"\xff" * 1000
        else:
            script = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000
        return [s, script, 0, time.time() + random.uniform(0, 5)]
    for i in range(slow_clients):
        try: clients.append(open_one(i))
        except OSError: pass
    while not stop.is_set():
        now = time.time()
        for i, client in enumerate(clients):
            if client[3] > now: continue
            try:
                client[0].send(client[1][client[2] % len(client[1]):][:1])
                client[2] += 1; client[3] = now + 5
            except OSError:
                client[0].close()
                try: clients[i] = open_one(i)
                except OSError: pass
        stop.wait(0.2)
    for client in clients: client[0].close()

def chunked_attack(stop, index):
    chunk = b"%x\r\n" % 65536 + b"c" * 65536 + b"\r\n"
    path = "/v1/images" if index % 2 == 0 else "/v1/styles"
    while not stop.is_set():
        s = None
        try:
            s = connect()
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n".encode())
            sent = 0
            while sent < 300_000_000 and not stop.is_set():
                s.sendall(chunk); sent += 65536
        except OSError:
            pass
        finally:
            if s: s.close()

def flood_attack(stop):
    sockets = {}  # fd -> [socket, head sent]
    poller = select.poll()
    def open_one():
        s = socket.socket(); s.setblocking(False)
        try:
            s.connect_ex((HOST, port))
        except OSError:
            s.close(); return
        sockets[s.fileno()] = [s, False]
        poller.register(s.fileno(), select.POLLIN | select.POLLOUT)
    def drop(fd):
        poller.unregister(fd); sockets.pop(fd)[0].close()
    for _ in range(flood_connections):
        open_one()
    while not stop.is_set():
        for fd, events in poller.poll(200):
            entry = sockets.get(fd)
            if entry is None: continue
            if events & select.POLLOUT and not entry[1]:
                try:
                    entry[0].send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"); entry[1] = True
                    poller.modify(fd, select.POLLIN)
                except BlockingIOError:
                    pass
                except OSError:
                    drop(fd)
                continue
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    if entry[0].recv(4096): continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                drop(fd)  # closed by the gateway: come back, at a bounded rate
        for _ in range(min(200, flood_connections - len(sockets))):
            open_one()
    for fd in list(sockets):
        drop(fd)

def gateway_counters():
    connection = http.client.HTTPConnection(HOST, admin_port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    except OSError:
        return "(no /metrics)"
    finally:
        connection.close()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("stache_gateway_http_connections_open",
                    "stache_gateway_http_connections_evicted_total"):
            values[name] = float(value)
    codes = {}
    for line in text.splitlines():
        if line.startswith("stache_gateway_http_requests_total{"):
            code = line.split('code="')[1].split('"')[0]
            codes[code] = codes.get(code, 0) + float(line.rsplit(" ", 1)[1])
    return (f"connections open {values.get('stache_gateway_http_connections_open', 0):.0f}  "
            f"evicted so far {values.get('stache_gateway_http_connections_evicted_total', 0):.0f}  "
            "answers so far " + " ".join(f"{code}:{n:.0f}" for code, n in sorted(codes.items())))

def run(attack):
    reset_peaks()
    stop = threading.Event()
    latencies, failures, peaks = [], [], {name: 0 for name in pids}
    workers = []
    if attack == "slow":
        workers.append(threading.Thread(target=slow_attack, args=(stop,)))
        label = f"{slow_clients} clients, a byte every 5 s"
    elif attack == "chunked":
        workers += [threading.Thread(target=chunked_attack, args=(stop, i))
                    for i in range(chunked_clients)]
        label = f"{chunked_clients} clients, 300 MB chunked bodies"
    else:
        workers.append(threading.Thread(target=flood_attack, args=(stop,)))
        label = f"{flood_connections} connections held open"
    for worker in workers: worker.start()
    time.sleep(min(1.0, duration / 5))  # the attack first, then the normal client
    client = threading.Thread(target=normal_client, args=(stop, latencies, failures))
    client.start()
    end = time.time() + duration
    while time.time() < end and alive():
        for name, pid in pids.items():
            peaks[name] = max(peaks[name], memory(pid, "VmRSS"))
        time.sleep(0.1)
    stop.set()
    client.join(15)
    for worker in workers: worker.join(15)
    for name, pid in pids.items():
        peaks[name] = max(peaks[name], memory(pid, "VmHWM"))
    latencies.sort()
    def percentile(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("inf")
    p50, p99 = percentile(0.50), percentile(0.99)
    print(f"attack {attack} ({label}, {duration:.0f} s)")
    print(f"  normal client   uploads {len(latencies)}  failures {len(failures)}  "
          f"p50 {p50 * 1000:.0f} ms  p99 {p99 * 1000:.0f} ms"
          + (f"  ({', '.join(sorted(set(failures)))})" if failures else ""))
    print("  peak RSS        " + "  ".join(f"{name} {peaks[name] / 1e6:.1f} MB" for name in pids))
    print("  gateway         " + gateway_counters())
    goals = [("gateway RSS < 300 MB", peaks.get("gateway", 0) < GOAL_RSS),
             ("failures 0", not failures and latencies),
             ("p99 < 2 s", p99 < GOAL_P99),
             ("all processes alive", alive())]
    print("  goals           " + "  ".join(f"{name}: {'ok' if ok else 'MISSED'}" for name, ok in goals))
    sys.stdout.flush()
    return all(ok for _, ok in goals)

results = [run(attack) for attack in attacks]
sys.exit(0 if all(results) else 1)
PY
if [ "$status" -ne 0 ]; then
  echo "hostile_test: a goal was missed (gateway log: last lines below)" >&2
  tail -5 "$work_dir/gateway.log" >&2 || true
fi
exit "$status"
