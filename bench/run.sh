#!/usr/bin/env bash
# Portcullis benchmark: builds release binaries, starts everything on loopback
# (free ports, a temporary directory, throw-away PostgreSQL databases), drives
# load with wrk and the helpers of bench/tools, and prints a Markdown report,
# also written to bench/results/latest.md. See bench/README.md.
#
# Knobs (environment):
#   BENCH_SECONDS          length of each measured run (default 10)
#   BENCH_WARMUP_SECONDS   untimed run before the first round of each row (default 2)
#   BENCH_ROUNDS           rounds of the proxied-GET and session rows, whose
#                          medians are reported (default 3)
#   BENCH_IDLE_CONNECTIONS idle keep-alive connections for the memory per
#                          connection (default 1000)
#   BENCH_PG               PostgreSQL server URL, without a database
#                          (default postgres://postgres@127.0.0.1:5432);
#                          `off` skips every PostgreSQL measurement
#   BENCH_GROWTH           `on` (default) or `off`: the growth stage, which
#                          seeds large databases (bench/seed.sh)
#   BENCH_GROWTH_USERS, BENCH_GROWTH_SESSIONS, BENCH_GROWTH_REVOKED
#                          size of the seeded databases (default 100000,
#                          1000000, 100000)
#   BENCH_NEXTJS           `on` (default) or `off`: the server-rendered pages of
#                          examples/nextjs (needs Node.js; builds the example
#                          when it has no production build)
#   BENCH_STAGES           which stages to run, space-separated (default all:
#                          gateway memory flood database growth nextjs); a
#                          stage left out is reported as not measured
#   BENCH_PORTCULLIS       a portcullis binary to measure instead of the one
#                          built from this tree (e.g. an older commit's
#                          release build, to compare before and after)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP_SECONDS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-1000}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
GROWTH=${BENCH_GROWTH:-on}
GROWTH_USERS=${BENCH_GROWTH_USERS:-100000}
GROWTH_SESSIONS=${BENCH_GROWTH_SESSIONS:-1000000}
GROWTH_REVOKED=${BENCH_GROWTH_REVOKED:-100000}
NEXTJS=${BENCH_NEXTJS:-on}
ALL_STAGES="gateway memory flood database growth nextjs"
STAGES=${BENCH_STAGES:-$ALL_STAGES}
INVOCATION="bench/run.sh${*:+ $*}"
for knob in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_ROUNDS BENCH_IDLE_CONNECTIONS BENCH_PG BENCH_GROWTH \
    BENCH_GROWTH_USERS BENCH_GROWTH_SESSIONS BENCH_GROWTH_REVOKED BENCH_NEXTJS BENCH_STAGES BENCH_PORTCULLIS; do
    if [[ -n ${!knob:-} ]]; then INVOCATION="$knob=${!knob} $INVOCATION"; fi
done
whole() { [[ ${!1} =~ ^[0-9]+$ ]] || { echo "$2 must be a whole number" >&2; exit 2; }; }
whole DURATION BENCH_SECONDS
whole WARMUP BENCH_WARMUP_SECONDS
whole ROUNDS BENCH_ROUNDS
whole IDLE_CONNECTIONS BENCH_IDLE_CONNECTIONS
whole GROWTH_USERS BENCH_GROWTH_USERS
whole GROWTH_SESSIONS BENCH_GROWTH_SESSIONS
whole GROWTH_REVOKED BENCH_GROWTH_REVOKED
((DURATION > 0 && ROUNDS > 0 && IDLE_CONNECTIONS > 0)) ||
    { echo "BENCH_SECONDS, BENCH_ROUNDS and BENCH_IDLE_CONNECTIONS must be above zero" >&2; exit 2; }
[[ $GROWTH == on || $GROWTH == off ]] || { echo "BENCH_GROWTH must be on or off" >&2; exit 2; }
[[ $NEXTJS == on || $NEXTJS == off ]] || { echo "BENCH_NEXTJS must be on or off" >&2; exit 2; }
for stage in $STAGES; do
    [[ " $ALL_STAGES " == *" $stage "* ]] || { echo "BENCH_STAGES: no stage $stage (stages: $ALL_STAGES)" >&2; exit 2; }
done
# wanted STAGE: whether STAGE is to run.
wanted() { [[ " $STAGES " == *" $1 "* ]]; }

CONNECTIONS=64           # proxied GET and session rows
SESSION_CONNECTIONS=16   # GET /api/auth/session, quiet and during a sign-in flood
LOGIN_CONNECTIONS=8      # sign-in floods
REFRESH_SESSIONS=32      # refresh-load loops
MEMORY_CONNECTIONS=1000  # busy-connection memory
READY_RUNS=5
PASSWORD="bench password, long enough"

# shellcheck source=bench/lib.sh
source bench/lib.sh

# --- tools ------------------------------------------------------------------

for tool in curl awk cargo ss; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
need_debian wrk wrk
# Debian's package starts nginx on port 80 unless policy-rc.d forbids it; the
# benchmark starts its own instance either way.
need_debian nginx nginx
[[ $GROWTH == off ]] || ! wanted growth || need_debian sqlite3 sqlite3
if [[ $PG_BASE != off ]]; then
    command -v psql >/dev/null || die "psql is required for the PostgreSQL measurements (or set BENCH_PG=off)"
    psql "$PG_BASE/postgres" -qAtc 'select 1' >/dev/null 2>&1 ||
        die "PostgreSQL is not reachable at $PG_BASE (start it, or set BENCH_PG=off)"
fi

# 1,000 client connections plus as many to the upstream, in one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 4096)) || die "ulimit -n is $(ulimit -n); at least 4096 is needed for $MEMORY_CONNECTIONS connections"

# --- build ------------------------------------------------------------------

log "building release binaries (cargo build --release)"
cargo build --release --quiet -p portcullis -p upstream-api -p portcullis-bench --bins ||
    die "cargo build failed"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
PORTCULLIS=${BENCH_PORTCULLIS:-$TARGET/portcullis}
[[ -x $PORTCULLIS ]] || die "$PORTCULLIS is not an executable"
for bin in portcullis upstream-api bare-proxy trivial-upstream hold-connections argon2-time refresh-load \
    ready-time free-port; do
    [[ -x $TARGET/$bin ]] || die "$TARGET/$bin was not built"
done

# Settings every Portcullis of the run gets unless a stage says otherwise:
# long-lived access tokens (no refresh in the middle of a run), per-address
# limits off (every request comes from 127.0.0.1), a short shutdown.
export PORTCULLIS_ACCESS_TOKEN_TTL=1d
export PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS=off
export PORTCULLIS_ADDRESS_LOGIN_FAILURES=off
export PORTCULLIS_ADDRESS_REGISTRATIONS=off
export PORTCULLIS_ADDRESS_REFRESHES=off
export PORTCULLIS_SHUTDOWN_TIMEOUT=2s

RAW=$WORK/raw
mkdir -p "$RAW"
BODY=$WORK/body.md # the report's sections, in order
: >"$BODY"

# port: a free port on 127.0.0.1 (another process could still take it first).
port() { "$TARGET/free-port"; }

# start_portcullis NAME PORT DATABASE_URL [more flags]: sets PID.
start_portcullis() {
    local name=$1 port=$2 db=$3
    shift 3
    start "$name" "$PORTCULLIS" serve --bind "127.0.0.1:$port" --database-url "$db" "$@"
    wait_for "$PID" "http://127.0.0.1:$port/readyz" 200
}

# curl_post URL PATH JSON [COOKIE]: POSTs like a same-origin page; sets
# STATUS and COOKIES (the "name=value; name=value" of the Set-Cookie headers).
curl_post() {
    local url=$1 path=$2 json=$3 cookie=${4:-}
    local args=(-s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' -H "Origin: $url")
    [[ -n $cookie ]] && args+=(-H "Cookie: $cookie")
    STATUS=$(curl "${args[@]}" --data "$json" "$url$path") || die "POST $path: curl failed"
    COOKIES=$(tr -d '\r' <"$WORK/headers" | awk 'tolower($1) == "set-cookie:" { sub(/^[^:]*: */, ""); sub(/;.*/, ""); printf "%s%s", sep, $0; sep = "; " }')
}
cookie_value() { tr ';' '\n' <<<"$2" | sed -n "s/^ *$1=//p"; }

# register URL USERNAME: a new account; sets CK (its cookies) and ACCESS.
register() {
    curl_post "$1" /api/auth/register "{\"username\":\"$2\",\"email\":\"$2@bench.invalid\",\"password\":\"$PASSWORD\"}"
    [[ $STATUS == 201 ]] || die "registering $2 answered $STATUS: $(cat "$WORK/body")"
    CK=$COOKIES
    ACCESS=$(cookie_value __Host-access_token "$CK")
    [[ -n $ACCESS && -n $(cookie_value __Host-refresh_token "$CK") ]] || die "registration set no cookies (got: $CK)"
}

# expect_200 URL [CURL ARGS...]
expect_200() {
    local url=$1 got
    shift
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")
    [[ $got == 200 ]] || die "GET $url answered $got, not 200"
}

START_TIME=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_EPOCH=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
NPROC=$(nproc)

# shellcheck source=bench/stages/gateway.sh
source bench/stages/gateway.sh
# shellcheck source=bench/stages/memory.sh
source bench/stages/memory.sh
# shellcheck source=bench/stages/flood.sh
source bench/stages/flood.sh
# shellcheck source=bench/stages/database.sh
source bench/stages/database.sh
# shellcheck source=bench/stages/growth.sh
source bench/stages/growth.sh
# shellcheck source=bench/stages/nextjs.sh
source bench/stages/nextjs.sh

# not_measured TITLE WHY: a section for a stage that did not run.
not_measured() {
    printf '## %s\n\nNot measured (%s).\n\n' "$1" "$2" >>"$BODY"
}
# The later stages reuse the first's SQLite database and cookies.
if wanted gateway || wanted memory || wanted flood || wanted database || wanted growth; then
    wanted gateway || die "BENCH_STAGES: the stages memory, flood, database and growth need gateway"
fi
if wanted gateway; then stage_gateway; else not_measured "1, 2. The gateway's own cost" "\`BENCH_STAGES\`"; fi
if wanted memory; then stage_memory; else not_measured "3. Memory per connection" "\`BENCH_STAGES\`"; fi
if wanted flood; then stage_flood; else not_measured "4. Sign-in floods" "\`BENCH_STAGES\`"; fi
if wanted database; then stage_database; else not_measured "5, 6. Refresh rotations, start to ready" "\`BENCH_STAGES\`"; fi
if [[ $GROWTH == off ]]; then
    not_measured "7. Growth" "\`BENCH_GROWTH=off\`"
elif wanted growth; then
    stage_growth
else
    not_measured "7. Growth" "\`BENCH_STAGES\`"
fi
if [[ $NEXTJS == off ]]; then
    not_measured "8. Server-rendered pages (Next.js)" "\`BENCH_NEXTJS=off\`"
elif wanted nextjs; then
    stage_nextjs
else
    not_measured "8. Server-rendered pages (Next.js)" "\`BENCH_STAGES\`"
fi

# --- report -------------------------------------------------------------------

ELAPSED=$(($(date +%s) - START_EPOCH))
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
TREE="clean"
((DIRTY > 0)) && TREE="$DIRTY tracked files with uncommitted changes (built as they were)"

REPORT=$WORK/report.md
{
    echo "# Portcullis benchmark"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $START_TIME (took ${ELAPSED} s) |"
    echo "| command | \`$INVOCATION\` |"
    echo "| commit | \`$COMMIT\`, working tree: $TREE |"
    if [[ -n ${BENCH_PORTCULLIS:-} ]]; then echo "| Portcullis measured | \`$BENCH_PORTCULLIS\` (not built from this tree) |"; fi
    echo "| machine | $NPROC CPUs ($(nproc --all) online), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM |"
    echo "| kernel | $(uname -srm) |"
    echo "| load average at start | $LOAD_AT_START |"
    echo "| tools | $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(rustc --version 2>/dev/null || echo rustc) |"
    echo
    echo "Everything runs on this one machine over loopback: wrk, Portcullis, the upstreams,"
    echo "nginx and PostgreSQL share its CPUs. Each wrk run lasts ${DURATION} s; rows measured in"
    echo "rounds show the median of $ROUNDS rounds (the rows take turns within a round, after one"
    echo "${WARMUP} s warm-up each). Latencies are wrk's, in milliseconds; \"errors\" counts answers of"
    echo "400 or more. **CPU µs/req** is the user + system time each process spent during the run"
    echo "(\`/proc/PID/stat\`, all threads; wrk's from \`times\`), divided by the requests completed:"
    echo "it shows where the machine's time goes, and adds up to about ${NPROC} s per second of a"
    echo "saturated run."
    echo
    echo "Portcullis settings: release build, SQLite in a temporary directory unless said otherwise,"
    echo "\`PORTCULLIS_ACCESS_TOKEN_TTL=1d\` (no token expires during the run), per-address rate"
    echo "limits **off** (\`PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS\`, \`_LOGIN_FAILURES\`, \`_REGISTRATIONS\`,"
    echo "\`_REFRESHES\` = \`off\`: all the load comes from 127.0.0.1) except where a stage says"
    echo "so, log level \`${PORTCULLIS_LOG:-info}\` (the default writes one line per request; to a"
    echo "file here), everything else default (cookies stay \`Secure\`/\`__Host-\`: wrk and curl send"
    echo "them over plain http)."
    echo
    cat "$BODY"
    echo "## Notes"
    echo
    if ((${#ODD[@]} == 0)); then
        echo "- No errors, timeouts or unexpected statuses in any run."
    else
        for line in "${ODD[@]}"; do echo "- $line"; done
    fi
    echo "- Raw wrk and tool output of this run: \`bench/results/raw/\`."
} >"$REPORT"

mkdir -p bench/results
rm -rf bench/results/raw
cp -r "$RAW" bench/results/raw
cp "$REPORT" bench/results/latest.md
cat "$REPORT"
FAILED=0
log "done in ${ELAPSED} s; report written to bench/results/latest.md"
