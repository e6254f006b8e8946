-- wrk script for bench/server_bench.py: arguments are TOKEN PATH pairs; each connection
-- sends them in turn (one pair: the same request again and again). At the end one JSON
-- line: requests, duration (us), p50/p95/p99 latency (us), non-2xx answers, socket errors.
local calls = {}

function init(args)
  for i = 1, #args, 2 do
    calls[#calls + 1] = {args[i], args[i + 1]}
  end
end

local n = 0

function request()
  n = n % #calls + 1
  local call = calls[n]
  return wrk.format("GET", call[2], {["Authorization"] = "Bearer " .. call[1]})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"n": %d, "us": %d, "p50": %d, "p95": %d, "p99": %d, "non2xx": %d, "socket": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
