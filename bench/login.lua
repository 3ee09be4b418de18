-- wrk script for bench/run.sh: a sign-in flood. Every request is
--   POST /api/auth/login {"username","password"}
-- with the JSON content type and Portcullis's own Origin, as the sign-in page
-- sends it. The body and origin come from BENCH_LOGIN_BODY and BENCH_ORIGIN.
-- At the end it prints the BENCH line of report.lua and a LOGIN line with the
-- count of each status (201 is a successful sign-in, 503 a shed one).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_LOGIN_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
if wrk.body == nil or wrk.headers["Origin"] == nil then
  error("BENCH_LOGIN_BODY and BENCH_ORIGIN must be set")
end

local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  statuses = {}
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local ok, shed, other = 0, 0, 0
  local parts = {}
  for status, n in pairs(total) do
    if status >= 200 and status < 300 then ok = ok + n
    elseif status == 503 then shed = shed + n
    else other = other + n end
    table.insert(parts, status .. ":" .. n)
  end
  table.sort(parts)
  io.write(string.format("LOGIN ok=%d shed_503=%d other=%d statuses=%s\n",
    ok, shed, other, #parts > 0 and table.concat(parts, ",") or "-"))
end
