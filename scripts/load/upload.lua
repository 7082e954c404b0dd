-- wrk script for scripts/load_test.sh: POST /v1/images with one photo as the
-- multipart field "image", at most a given number of requests.
--
--   wrk -t1 -c4 -d30s --latency -s scripts/load/upload.lua \
--       http://127.0.0.1:8000 -- photo.jpg 200
--
-- wrk has no request-count limit and runs its main thread for the whole -d.
-- So this script sends no more than that many requests (later ones are
-- delayed past any run), stops the thread once they are all answered and
-- prints "stache-load: cap reached"; load_test.sh then sends wrk SIGINT,
-- which ends the run at once. Run it with one thread (-t1): the cap counts
-- per thread. done() prints the figures as "stache-load: <key> <value>" lines.

local boundary = "stache-load-7c1e5a0b"
local cap = 0
local sent = 0
local responses = 0
local threads = {}
-- A global, so that done() can read it from each thread with thread:get.
non_2xx = 0

local function read_file(path)
  local file, err = io.open(path, "rb")
  if not file then error("cannot read the photo: " .. tostring(err)) end
  local bytes = file:read("*a")
  file:close()
  return bytes
end

-- Runs in the main state, once per thread.
function setup(thread)
  table.insert(threads, thread)
end

-- Runs in each thread before its first request. wrk builds the request from
-- wrk.method, wrk.path, wrk.headers and wrk.body after this returns.
function init(args)
  local photo = args[1]
  if not photo then error("usage: wrk ... -s upload.lua <url> -- <photo> [max requests]") end
  cap = tonumber(args[2] or "0") or 0
  wrk.method = "POST"
  wrk.path = "/v1/images"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  wrk.body = table.concat({
    "--" .. boundary,
    'Content-Disposition: form-data; name="image"; filename="photo.jpg"',
    "Content-Type: application/octet-stream",
    "",
    read_file(photo),
    "--" .. boundary .. "--",
    "",
  }, "\r\n")
end

-- wrk asks before every request a connection sends, its first included:
-- none until the cap is sent, then a delay longer than any run. (Counted
-- here, not in a request() function, which wrk also calls once at start-up
-- to check the request.)
function delay()
  if cap > 0 and sent >= cap then return 24 * 3600 * 1000 end
  sent = sent + 1
  return 0
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
  if cap > 0 and responses >= cap then
    io.write("stache-load: cap reached\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total_non_2xx = 0
  for _, thread in ipairs(threads) do
    total_non_2xx = total_non_2xx + (thread:get("non_2xx") or 0)
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local lines = {
    { "requests", summary.requests },
    { "seconds", string.format("%.3f", seconds) },
    { "throughput", string.format("%.2f", summary.requests / seconds) },
    -- wrk's latencies are microseconds.
    { "p50_ms", string.format("%.1f", latency:percentile(50) / 1e3) },
    { "p95_ms", string.format("%.1f", latency:percentile(95) / 1e3) },
    { "p99_ms", string.format("%.1f", latency:percentile(99) / 1e3) },
    { "non_2xx", total_non_2xx },
    { "connect_errors", e.connect },
    { "read_errors", e.read },
    { "write_errors", e.write },
    { "timeouts", e.timeout },
  }
  for _, line in ipairs(lines) do
    io.write(string.format("stache-load: %s %s\n", line[1], tostring(line[2])))
  end
end
