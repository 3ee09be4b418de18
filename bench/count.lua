-- wrk script for bench/profile.sh: stops sending after BENCH_REQUESTS
-- answers (per thread; run it with -t1), so that a profile covers a fixed
-- number of requests, whatever the speed, and then creates the file
-- BENCH_DONE_FILE. wrk itself only ends at the end of its -d duration or on
-- SIGINT, which the caller sends when the file appears; the summary counts
-- the answers. The requests still in flight when it stops (fewer than the
-- connections) are served too, which makes per-request figures a fraction of
-- a percent high. Prints report.lua's BENCH line.
local limit = tonumber(os.getenv("BENCH_REQUESTS") or "")
local done_file = os.getenv("BENCH_DONE_FILE")
if limit == nil or limit < 1 or done_file == nil then
  error("set BENCH_REQUESTS to a number of requests and BENCH_DONE_FILE to a path")
end
local seen = 0

response = function(status, headers, body)
  seen = seen + 1
  if seen == limit then
    wrk.thread:stop()
    local f = io.open(done_file, "w")
    if f then f:close() end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
