-- wrk script for bench/run.sh: a sign-in flood. Every request is
--   POST /api/auth/login {"username","password"}
-- with the JSON content type and Portcullis's own Origin, as the sign-in page
-- sends it. The origin comes from BENCH_ORIGIN; the body either is
-- BENCH_LOGIN_BODY (one account), or, when BENCH_LOGIN_USERS=N and
-- BENCH_LOGIN_PASSWORD are set, names a random one of the seeded accounts
-- seed1 … seedN (bench/seed.sh) on each request.
-- At the end it prints the BENCH line of report.lua and a LOGIN line with the
-- count of each status (2xx is a successful sign-in, 429 one refused by a
-- rate limit, 503 one shed because the hashing queue is full).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
local users = tonumber(os.getenv("BENCH_LOGIN_USERS") or "")
local password = os.getenv("BENCH_LOGIN_PASSWORD")
wrk.body = os.getenv("BENCH_LOGIN_BODY")
if wrk.headers["Origin"] == nil or (wrk.body == nil and (users == nil or password == nil)) then
  error("set BENCH_ORIGIN and either BENCH_LOGIN_BODY or BENCH_LOGIN_USERS and BENCH_LOGIN_PASSWORD")
end

local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  statuses = {}
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

if users ~= nil and password ~= nil then
  -- Quotes and backslashes escaped: enough for a benchmark password.
  local quoted = '"' .. password:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
  request = function()
    local body = '{"username":"seed' .. math.random(users) .. '","password":' .. quoted .. '}'
    return wrk.format(nil, nil, nil, body)
  end
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
  local ok, refused, shed, other = 0, 0, 0, 0
  local parts = {}
  for status, n in pairs(total) do
    if status >= 200 and status < 300 then ok = ok + n
    elseif status == 429 then refused = refused + n
    elseif status == 503 then shed = shed + n
    else other = other + n end
    table.insert(parts, status .. ":" .. n)
  end
  table.sort(parts)
  io.write(string.format("LOGIN ok=%d refused_429=%d shed_503=%d other=%d statuses=%s\n",
    ok, refused, shed, other, #parts > 0 and table.concat(parts, ",") or "-"))
end
