-- wrk script: every request carries a real session cookie, so every request
-- loads a session and saves it (the counter changes on every visit).
--
-- wrk runs one Lua state per thread and does not tell request() which
-- connection it is building for, so a cookie cannot be bound to a connection
-- from inside wrk. Instead bench.py creates one session per connection before
-- the run (a plain GET without a cookie, keeping the Set-Cookie it answers) and
-- passes the cookies as arguments: wrk ... -s cookie.lua -- <threads> <cookie>...
-- Each thread takes its share and hands them out round-robin, so with as many
-- cookies as connections each session sees about one request at a time, and
-- the store ends the run holding one session per connection, not per request
-- (bench.py checks that).

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local nthreads = tonumber(args[1])
  requests = {}
  for i = 2, #args do
    if (i - 2) % nthreads == id then
      table.insert(requests, wrk.format("GET", "/", { ["Cookie"] = args[i] }))
    end
  end
  if #requests == 0 then
    error("cookie.lua: no cookies for thread " .. id .. "; pass: -- <threads> <cookie>...")
  end
  next_request = 0
end

-- bench/run --pace MS: each connection waits MS milliseconds before each request, so
-- the servers run below saturation. wrk calls delay() before every request when the
-- script defines it, which costs a timer per request, so it is defined only when paced.
local pace = tonumber(os.getenv("PACE_MS") or "0") or 0

if pace > 0 then
  function delay()
    return pace
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

-- One JSON line that bench.py reads: exact counts and percentiles in microseconds.
function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "mean_us": %.1f, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_write": %d, "errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout))
end
