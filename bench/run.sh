#!/usr/bin/env bash
# Portcullis benchmark: builds release binaries, starts everything on loopback
# (free ports, a temporary directory, a throw-away PostgreSQL database), drives
# load with wrk and the helpers of bench/tools, and prints a Markdown report,
# also written to bench/results/latest.md. See bench/README.md.
#
# Knobs (environment):
#   BENCH_SECONDS          length of each measured run (default 10)
#   BENCH_WARMUP_SECONDS   length of the warm-up before each one (default 2)
#   BENCH_PG               PostgreSQL server URL, without a database
#                          (default postgres://postgres@127.0.0.1:5432);
#                          `off` skips the PostgreSQL refresh measurement
#   BENCH_PORTCULLIS       a portcullis binary to measure instead of the one
#                          built from this tree (e.g. an older commit's
#                          release build, to compare before and after)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP_SECONDS:-2}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
INVOCATION="bench/run.sh${*:+ $*}"
for knob in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_PG BENCH_PORTCULLIS; do
    if [[ -n ${!knob:-} ]]; then INVOCATION="$knob=${!knob} $INVOCATION"; fi
done
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_SECONDS must be a whole number of seconds above zero" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "BENCH_WARMUP_SECONDS must be a whole number of seconds" >&2; exit 2; }

CONNECTIONS=64           # proxied GET
SESSION_CONNECTIONS=16   # GET /api/auth/session, quiet and during the flood
LOGIN_CONNECTIONS=8      # sign-in flood
REFRESH_SESSIONS=32      # refresh-load loops
MEMORY_CONNECTIONS=1000  # peak-RSS load
PAGE_CONNECTIONS=16      # server-rendered Next.js page
READY_RUNS=5
PASSWORD="bench password, long enough"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# --- tools ------------------------------------------------------------------

for tool in curl awk cargo; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
    log "wrk is missing; installing Debian's package"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y wrk >&2 || die "apt-get install -y wrk failed"
    else
        sudo apt-get install -y wrk >&2 || die "sudo apt-get install -y wrk failed"
    fi
fi
if [[ $PG_BASE != off ]]; then
    command -v psql >/dev/null || die "psql is required for the PostgreSQL measurement (or set BENCH_PG=off)"
    psql "$PG_BASE/postgres" -qAtc 'select 1' >/dev/null 2>&1 ||
        die "PostgreSQL is not reachable at $PG_BASE (start it, or set BENCH_PG=off)"
fi

# 1,000 client connections plus as many to the upstream, in one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 4096)) || die "ulimit -n is $(ulimit -n); at least 4096 is needed for $MEMORY_CONNECTIONS connections"

# --- processes and cleanup --------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
PIDS=()
PG_DB=""
FAILED=1

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

forget_pid() {
    local kept=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [[ $p == "$1" ]] || kept+=("$p"); done
    PIDS=("${kept[@]+"${kept[@]}"}")
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
    if [[ -n $PG_DB ]]; then
        psql "$PG_BASE/postgres" -qc "drop database if exists $PG_DB with (force)" >/dev/null 2>&1 ||
            log "could not drop the PostgreSQL database $PG_DB; drop it by hand"
    fi
    if ((FAILED)); then
        log "logs kept in $WORK"
        for f in "$WORK"/*.log; do
            [[ -s $f ]] || continue
            echo "--- last lines of $f" >&2
            tail -n 15 "$f" >&2
        done
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a background process with its output in $WORK/NAME.log; sets PID.
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

# wait_for PID URL STATUS [CURL ARGS...]: until URL answers STATUS.
wait_for() {
    local pid=$1 url=$2 want=$3 got i
    shift 3
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || die "the process for $url exited (see its log above)"
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)
        [[ $got == "$want" ]] && return 0
        sleep 0.1
    done
    die "$url did not answer $want within 60 s (last: $got)"
}

# --- build ------------------------------------------------------------------

log "building release binaries (cargo build --release)"
cargo build --release --quiet -p portcullis -p upstream-api -p portcullis-bench --bins ||
    die "cargo build failed"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
PORTCULLIS=${BENCH_PORTCULLIS:-$TARGET/portcullis}
[[ -x $PORTCULLIS ]] || die "$PORTCULLIS is not an executable"
for bin in portcullis upstream-api bare-proxy argon2-time refresh-load ready-time free-port; do
    [[ -x $TARGET/$bin ]] || die "$TARGET/$bin was not built"
done

read -r P_PORT U_PORT B_PORT PG_PORT R_PORT N_PORT NP_PORT < <("$TARGET/free-port" --count 7) || die "no free ports"
P_URL=http://127.0.0.1:$P_PORT
U_URL=http://127.0.0.1:$U_PORT
B_URL=http://127.0.0.1:$B_PORT
SQLITE_URL=sqlite://$WORK/portcullis.db

# Settings every Portcullis of the run gets: long-lived access tokens (no
# refresh in the middle of a run), per-address limits off (every request comes
# from 127.0.0.1), a short shutdown.
export PORTCULLIS_ACCESS_TOKEN_TTL=1d
export PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS=off
export PORTCULLIS_ADDRESS_LOGIN_FAILURES=off
export PORTCULLIS_ADDRESS_REGISTRATIONS=off
export PORTCULLIS_ADDRESS_REFRESHES=off
export PORTCULLIS_SHUTDOWN_TIMEOUT=2s

start_portcullis() { # NAME PORT DATABASE_URL [more flags]
    local name=$1 port=$2 db=$3
    shift 3
    start "$name" "$PORTCULLIS" serve --bind "127.0.0.1:$port" --database-url "$db" "$@"
    wait_for "$PID" "http://127.0.0.1:$port/readyz" 200
}
start_upstream() {
    start upstream "$TARGET/upstream-api" --bind "127.0.0.1:$U_PORT" --jwks-url "$P_URL/.well-known/jwks.json"
    U_PID=$PID
    wait_for "$U_PID" "$U_URL/api/notes" 401
}
start_bare() {
    start bare-proxy "$TARGET/bare-proxy" --bind "127.0.0.1:$B_PORT" --upstream "127.0.0.1:$U_PORT"
    B_PID=$PID
    wait_for "$B_PID" "$B_URL/api/notes" 401
}

# --- measuring --------------------------------------------------------------

RAW=$WORK/raw
mkdir -p "$RAW"

# kv KEY TEXT: the value of KEY=value in TEXT.
kv() {
    awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$2"
}

# measure NAME WRK-ARGS...: a warm-up, then the measured wrk run; sets BENCH
# to its BENCH line (and keeps the whole output in $RAW/NAME.txt).
measure() {
    local name=$1
    shift
    if ((WARMUP > 0)); then
        wrk --timeout 10s -d "${WARMUP}s" -s bench/report.lua "$@" >"$RAW/$name.warmup.txt" 2>&1 ||
            die "wrk warm-up for $name failed: $(tail -n 3 "$RAW/$name.warmup.txt")"
    fi
    wrk --timeout 10s -d "${DURATION}s" --latency -s bench/report.lua "$@" >"$RAW/$name.txt" 2>&1 ||
        die "wrk for $name failed: $(tail -n 3 "$RAW/$name.txt")"
    BENCH=$(grep '^BENCH ' "$RAW/$name.txt") || die "no result line from wrk for $name"
    check_errors "$name" "$BENCH"
}

ODD=()
check_errors() { # NAME BENCH-LINE: notes any error in the report
    local name=$1 line=$2 k v
    for k in status_errors connect_errors read_errors write_errors timeouts; do
        v=$(kv "$k" "$line")
        if [[ $v != 0 ]]; then
            ODD+=("$name: $v ${k/_/ } (raw output: bench/results/raw/$name.txt)")
            log "note: $name had $v ${k/_/ }"
        fi
    done
}

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
num() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
vm() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; } # PID VmHWM|VmRSS -> MiB

# curl_post PATH JSON [COOKIE]: POSTs like a same-origin page; sets STATUS and
# COOKIES (the "name=value; name=value" of the Set-Cookie headers).
curl_post() {
    local path=$1 json=$2 cookie=${3:-}
    local args=(-s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' -H "Origin: $P_URL")
    [[ -n $cookie ]] && args+=(-H "Cookie: $cookie")
    STATUS=$(curl "${args[@]}" --data "$json" "$P_URL$path") || die "POST $path: curl failed"
    COOKIES=$(tr -d '\r' <"$WORK/headers" | awk 'tolower($1) == "set-cookie:" { sub(/^[^:]*: */, ""); sub(/;.*/, ""); printf "%s%s", sep, $0; sep = "; " }')
}
cookie_value() { tr ';' '\n' <<<"$2" | sed -n "s/^ *$1=//p"; }

START_TIME=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_EPOCH=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Proxied GET ----------------------------------------------------------------
log "starting Portcullis (SQLite), the example upstream and the bare proxy"
start_portcullis portcullis "$P_PORT" "$SQLITE_URL" --upstream "$U_URL"
P_PID=$PID
start_upstream
start_bare

curl_post /api/auth/register "{\"username\":\"bench\",\"email\":\"bench@bench.invalid\",\"password\":\"$PASSWORD\"}"
[[ $STATUS == 201 ]] || die "registration answered $STATUS: $(cat "$WORK/body")"
CK=$COOKIES
ACCESS=$(cookie_value __Host-access_token "$CK")
[[ -n $ACCESS && -n $(cookie_value __Host-refresh_token "$CK") ]] || die "registration set no cookies (got: $CK)"
curl_post /api/notes '{"text":"a note to list"}' "$CK"
[[ $STATUS == 201 ]] || die "POST /api/notes through Portcullis answered $STATUS: $(cat "$WORK/body")"
for check in "$P_URL/api/notes|Cookie: $CK" "$U_URL/api/notes|Authorization: Bearer $ACCESS" \
    "$B_URL/api/notes|Authorization: Bearer $ACCESS" "$P_URL/api/auth/session|Cookie: $CK"; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -H "${check#*|}" "${check%%|*}")
    [[ $got == 200 ]] || die "GET ${check%%|*} answered $got, not 200"
done

log "1. proxied GET /api/notes: Portcullis, direct, bare proxy (${DURATION}s each)"
measure get-portcullis -t1 -c"$CONNECTIONS" -H "Cookie: $CK" "$P_URL/api/notes"
G_P=$BENCH
measure get-direct -t1 -c"$CONNECTIONS" -H "Authorization: Bearer $ACCESS" "$U_URL/api/notes"
G_D=$BENCH
measure get-bare -t1 -c"$CONNECTIONS" -H "Authorization: Bearer $ACCESS" "$B_URL/api/notes"
G_B=$BENCH

# 1b. Server-rendered pages ----------------------------------------------------
# The Next.js example's home page, which greets its user from the forwarded
# token: through a Portcullis with frontend_token on (same database, so the
# same cookies), and straight to `next start` with the token as a Bearer
# header. Needs node and the example's production build.
NEXT_DIR=$ROOT/examples/nextjs
N_P="" N_D=""
if command -v node >/dev/null && [[ -f $NEXT_DIR/.next/BUILD_ID ]]; then
    log "1b. server-rendered GET / of examples/nextjs: through Portcullis, direct"
    NEXT_TELEMETRY_DISABLED=1 JWKS_URL="$P_URL/.well-known/jwks.json" BACKEND_URL="$U_URL" \
        start nextjs node "$NEXT_DIR/node_modules/next/dist/bin/next" start "$NEXT_DIR" \
        --hostname 127.0.0.1 --port "$N_PORT"
    N_PID=$PID
    wait_for "$N_PID" "http://127.0.0.1:$N_PORT/" 200
    PORTCULLIS_FRONTEND_TOKEN=true start_portcullis portcullis-pages "$NP_PORT" "$SQLITE_URL" \
        --upstream "$U_URL" --frontend "http://127.0.0.1:$N_PORT"
    NP_PID=$PID
    for check in "http://127.0.0.1:$NP_PORT/|Cookie: $CK" "http://127.0.0.1:$N_PORT/|Authorization: Bearer $ACCESS"; do
        curl -s -H "${check#*|}" "${check%%|*}" | grep -q '<h1 id="greeting">' ||
            die "GET ${check%%|*} did not render the signed-in home page"
    done
    measure pages-portcullis -t1 -c"$PAGE_CONNECTIONS" -H "Cookie: $CK" "http://127.0.0.1:$NP_PORT/"
    N_P=$BENCH
    measure pages-direct -t1 -c"$PAGE_CONNECTIONS" -H "Authorization: Bearer $ACCESS" "http://127.0.0.1:$N_PORT/"
    N_D=$BENCH
    stop_pid "$NP_PID"
    stop_pid "$N_PID"
else
    log "1b. skipped: needs node and examples/nextjs built (npm ci && npm run build there, after packages/next)"
fi

# 2. Session ------------------------------------------------------------------
log "2. GET /api/auth/session"
measure session-quiet -t1 -c"$SESSION_CONNECTIONS" -H "Cookie: $CK" "$P_URL/api/auth/session"
S_Q=$BENCH

# 3. Sign-in flood ----------------------------------------------------------
log "3. argon2id timing and the sign-in flood"
ARGON=$("$TARGET/argon2-time" --runs 20) || die "argon2-time failed"
ARGON_MS=$(kv median_ms "$ARGON")
NPROC=$(nproc)
CEILING=$(awk -v n="$NPROC" -v ms="$ARGON_MS" 'BEGIN { printf "%.1f", n * 1000 / ms }')

curl_post /api/auth/register "{\"username\":\"flood\",\"email\":\"flood@bench.invalid\",\"password\":\"$PASSWORD\"}"
[[ $STATUS == 201 ]] || die "registering the flood user answered $STATUS: $(cat "$WORK/body")"
export BENCH_LOGIN_BODY="{\"username\":\"flood\",\"password\":\"$PASSWORD\"}"
export BENCH_ORIGIN=$P_URL

login_flood() { # NAME SECONDS: one flood run, output in $RAW/NAME.txt
    wrk --timeout 10s -t1 -c"$LOGIN_CONNECTIONS" -d "$2s" --latency -s bench/login.lua "$P_URL/api/auth/login" >"$RAW/$1.txt" 2>&1
}
if ((WARMUP > 0)); then login_flood login.warmup "$WARMUP" || die "sign-in warm-up failed"; fi
login_flood login "$DURATION" || die "wrk sign-in flood failed: $(tail -n 3 "$RAW/login.txt")"
L_B=$(grep '^BENCH ' "$RAW/login.txt") || die "no result line from the sign-in flood"
L_L=$(grep '^LOGIN ' "$RAW/login.txt") || die "no status line from the sign-in flood"
L_SECS=$(awk -v us="$(kv duration_us "$L_B")" 'BEGIN { print us / 1e6 }')
L_RATE=$(awk -v n="$(kv ok "$L_L")" -v s="$L_SECS" 'BEGIN { printf "%.1f", n / s }')
if [[ $(kv other "$L_L") != 0 ]]; then ODD+=("sign-in flood: statuses $(kv statuses "$L_L")"); fi

log "3b. GET /api/auth/session during a sign-in flood"
# The flood starts first and outlasts the session run by a second either side.
wrk --timeout 10s -t1 -c"$LOGIN_CONNECTIONS" -d "$((DURATION + 2))s" --latency -s bench/login.lua \
    "$P_URL/api/auth/login" >"$RAW/login-during.txt" 2>&1 &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
sleep 1
wrk --timeout 10s -t1 -c"$SESSION_CONNECTIONS" -d "${DURATION}s" --latency -s bench/report.lua \
    -H "Cookie: $CK" "$P_URL/api/auth/session" >"$RAW/session-flood.txt" 2>&1 ||
    die "wrk for the session during the flood failed: $(tail -n 3 "$RAW/session-flood.txt")"
wait "$FLOOD_PID" || die "the concurrent sign-in flood failed: $(tail -n 3 "$RAW/login-during.txt")"
forget_pid "$FLOOD_PID"
S_F=$(grep '^BENCH ' "$RAW/session-flood.txt") || die "no result line from the session run during the flood"
check_errors session-flood "$S_F"
LD_B=$(grep '^BENCH ' "$RAW/login-during.txt") || die "no result line from the concurrent flood"
LD_L=$(grep '^LOGIN ' "$RAW/login-during.txt") || die "no status line from the concurrent flood"
LD_RATE=$(awk -v n="$(kv ok "$LD_L")" -v us="$(kv duration_us "$LD_B")" 'BEGIN { printf "%.1f", n / (us / 1e6) }')
if [[ $(kv other "$LD_L") != 0 ]]; then ODD+=("sign-in flood during session run: statuses $(kv statuses "$LD_L")"); fi

# 4. Refresh rotations ------------------------------------------------------
refresh_load() { # NAME URL: sets REFRESH
    local name=$1 url=$2
    if ((WARMUP > 0)); then
        "$TARGET/refresh-load" --url "$url" --sessions "$REFRESH_SESSIONS" --seconds "$WARMUP" \
            --username refresher --password "$PASSWORD" >"$RAW/$name.warmup.txt" 2>&1 ||
            die "refresh-load warm-up ($name) failed: $(tail -n 3 "$RAW/$name.warmup.txt")"
    fi
    "$TARGET/refresh-load" --url "$url" --sessions "$REFRESH_SESSIONS" --seconds "$DURATION" \
        --username refresher --password "$PASSWORD" >"$RAW/$name.txt" 2>&1 ||
        die "refresh-load ($name) failed: $(tail -n 3 "$RAW/$name.txt")"
    REFRESH=$(grep '^rotations_per_sec=' "$RAW/$name.txt") || die "no result line from refresh-load ($name)"
    if [[ $(kv failures "$REFRESH") != 0 ]]; then ODD+=("$name: $(kv failures "$REFRESH") failed refreshes, statuses $(kv statuses "$REFRESH")"); fi
}
log "4. refresh rotations on SQLite"
refresh_load refresh-sqlite "$P_URL"
R_S=$REFRESH
if [[ $PG_BASE != off ]]; then
    log "4. refresh rotations on PostgreSQL"
    PG_DB=bench_$(date +%s)_$$
    psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "create database $PG_DB" >/dev/null ||
        { PG_DB=""; die "cannot create the PostgreSQL database"; }
    start_portcullis portcullis-pg "$PG_PORT" "$PG_BASE/$PG_DB"
    PGP_PID=$PID
    refresh_load refresh-postgres "http://127.0.0.1:$PG_PORT"
    R_P=$REFRESH
    stop_pid "$PGP_PID"
    psql "$PG_BASE/postgres" -qc "drop database $PG_DB with (force)" >/dev/null && PG_DB=""
fi

# 5. Peak memory ----------------------------------------------------------------
log "5. peak RSS under $MEMORY_CONNECTIONS connections (fresh Portcullis, then fresh bare proxy)"
stop_pid "$P_PID"
stop_pid "$B_PID"
# Same database, so the cookies and the upstream's cached keys stay valid.
start_portcullis portcullis-mem "$P_PORT" "$SQLITE_URL" --upstream "$U_URL"
P_PID=$PID
M_P_IDLE=$(vm "$P_PID" VmRSS)
wrk --timeout 10s -t2 -c"$MEMORY_CONNECTIONS" -d "${DURATION}s" -s bench/report.lua \
    -H "Cookie: $CK" "$P_URL/api/notes" >"$RAW/memory-portcullis.txt" 2>&1 ||
    die "wrk for Portcullis memory failed: $(tail -n 3 "$RAW/memory-portcullis.txt")"
M_P=$(vm "$P_PID" VmHWM)
M_PB=$(grep '^BENCH ' "$RAW/memory-portcullis.txt") || die "no result line from the memory run"
check_errors memory-portcullis "$M_PB"
stop_pid "$P_PID"

start_bare
M_B_IDLE=$(vm "$B_PID" VmRSS)
wrk --timeout 10s -t2 -c"$MEMORY_CONNECTIONS" -d "${DURATION}s" -s bench/report.lua \
    -H "Authorization: Bearer $ACCESS" "$B_URL/api/notes" >"$RAW/memory-bare.txt" 2>&1 ||
    die "wrk for bare-proxy memory failed: $(tail -n 3 "$RAW/memory-bare.txt")"
M_B=$(vm "$B_PID" VmHWM)
M_BB=$(grep '^BENCH ' "$RAW/memory-bare.txt") || die "no result line from the memory run"
check_errors memory-bare "$M_BB"
stop_pid "$B_PID"
stop_pid "$U_PID"

# 6. Start to ready ---------------------------------------------------------
log "6. start to ready, $READY_RUNS × fresh database and $READY_RUNS × existing database"
ready() { # DATABASE_FILE: prints the milliseconds
    local out
    out=$("$TARGET/ready-time" --addr "127.0.0.1:$R_PORT" -- "$PORTCULLIS" serve \
        --bind "127.0.0.1:$R_PORT" --database-url "sqlite://$1" 2>>"$WORK/ready.log") ||
        die "ready-time failed (see ready.log)"
    kv ready_ms "$out"
}
READY_FRESH=""
READY_EXISTING=""
for ((i = 1; i <= READY_RUNS; i++)); do READY_FRESH+="$(ready "$WORK/ready-$i.db") "; done
for ((i = 1; i <= READY_RUNS; i++)); do READY_EXISTING+="$(ready "$WORK/ready-1.db") "; done
RF_MED=$(median <<<"$READY_FRESH")
RE_MED=$(median <<<"$READY_EXISTING")

# --- report -------------------------------------------------------------------

ELAPSED=$(($(date +%s) - START_EPOCH))
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
TREE="clean"
((DIRTY > 0)) && TREE="$DIRTY tracked files with uncommitted changes (built as they were)"

row() { # LABEL BENCH-LINE
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$(num "$(kv rps "$2")")" "$(ms "$(kv p50_us "$2")")" \
        "$(ms "$(kv p99_us "$2")")" "$(kv status_errors "$2")"
}

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
    echo "| tools | $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), $(rustc --version 2>/dev/null || echo rustc) |"
    echo
    echo "Everything runs on this one machine over loopback: load generator, Portcullis, the"
    echo "example upstream (\`upstream-api\`, which verifies every token itself) and PostgreSQL"
    echo "share its CPUs. Each wrk run lasts ${DURATION} s after a ${WARMUP} s warm-up; latencies"
    echo "are wrk's, in milliseconds; \"errors\" counts answers of 400 or more."
    echo
    echo "Portcullis settings: release build, SQLite in a temporary directory unless said otherwise,"
    echo "\`PORTCULLIS_ACCESS_TOKEN_TTL=1d\` (no token expires during the run), per-address rate"
    echo "limits **off** (\`PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS\`, \`_LOGIN_FAILURES\`, \`_REGISTRATIONS\`,"
    echo "\`_REFRESHES\` = \`off\`: all the load comes from 127.0.0.1), log level"
    echo "\`${PORTCULLIS_LOG:-info}\` (the default writes one line per request; to a file here),"
    echo "everything else default (cookies stay \`Secure\`/\`__Host-\`: wrk and curl send them over plain http)."
    echo
    echo "## 1. Proxied \`GET /api/notes\` (wrk -t1 -c$CONNECTIONS)"
    echo
    echo "| path | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|"
    row "through Portcullis (cookies)" "$G_P"
    row "bare reverse proxy, no auth (Bearer from wrk)" "$G_B"
    row "straight to the upstream (Bearer from wrk)" "$G_D"
    echo
    echo "- Portcullis / bare proxy: throughput **$(ratio "$(kv rps "$G_P")" "$(kv rps "$G_B")")×**, p99 **$(ratio "$(kv p99_us "$G_P")" "$(kv p99_us "$G_B")")×**"
    echo "- Portcullis / direct: throughput $(ratio "$(kv rps "$G_P")" "$(kv rps "$G_D")")×, p99 $(ratio "$(kv p99_us "$G_P")" "$(kv p99_us "$G_D")")×"
    echo
    echo "## 1b. Server-rendered \`GET /\` of \`examples/nextjs\` (\`next start\`, wrk -t1 -c$PAGE_CONNECTIONS)"
    echo
    if [[ -n $N_P ]]; then
        echo "| path | req/s | p50 ms | p99 ms | errors |"
        echo "|---|---:|---:|---:|---:|"
        row "through Portcullis (cookies, \`frontend_token\`)" "$N_P"
        row "straight to \`next start\` (Bearer from wrk)" "$N_D"
        echo
        echo "- Portcullis / direct: throughput **$(ratio "$(kv rps "$N_P")" "$(kv rps "$N_D")")×**, p99 **$(ratio "$(kv p99_us "$N_P")" "$(kv p99_us "$N_D")")×**"
    else
        echo "Not measured: node or the example's build was missing."
    fi
    echo
    echo "## 2. \`GET /api/auth/session\` (wrk -t1 -c$SESSION_CONNECTIONS)"
    echo
    echo "| | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|"
    row "quiet" "$S_Q"
    echo
    echo "## 3. Sign-in throughput against the argon2id ceiling"
    echo
    echo "- one argon2id verification (m=19456 KiB, t=2, p=1), median of 20: **$ARGON_MS ms** (min $(kv min_ms "$ARGON"), max $(kv max_ms "$ARGON"))"
    echo "- ceiling = $NPROC CPUs ÷ $ARGON_MS ms = **$CEILING sign-ins/s** (Portcullis hashes on \`${PORTCULLIS_HASH_CONCURRENCY:-$NPROC}\` threads, \`PORTCULLIS_HASH_CONCURRENCY\`, default = CPUs)"
    echo "- sign-in flood (\`POST /api/auth/login\`, wrk -t1 -c$LOGIN_CONNECTIONS, one account, right password):"
    echo "  **$L_RATE sign-ins/s** (201 only) = **$(ratio "$L_RATE" "$CEILING")× the ceiling**;"
    echo "  p50 $(ms "$(kv p50_us "$L_B")") ms, p99 $(ms "$(kv p99_us "$L_B")") ms; statuses $(kv statuses "$L_L"); shed with 503: $(kv shed_503 "$L_L")"
    echo
    echo "\`GET /api/auth/session\` while a second flood runs (it starts 1 s before and ends 1 s after):"
    echo
    echo "| session | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|"
    row "quiet" "$S_Q"
    row "during the sign-in flood" "$S_F"
    echo
    echo "- session p99 during the flood / quiet: **$(ratio "$(kv p99_us "$S_F")" "$(kv p99_us "$S_Q")")×**"
    echo "- the flood meanwhile: $LD_RATE sign-ins/s; statuses $(kv statuses "$LD_L"); shed with 503: **$(kv shed_503 "$LD_L")**"
    echo
    echo "## 4. Refresh-token rotations ($REFRESH_SESSIONS sessions, one loop each, \`bench/tools\` refresh-load)"
    echo
    echo "| database | rotations/s | failures | statuses |"
    echo "|---|---:|---:|---|"
    echo "| SQLite (file in a temporary directory) | $(num "$(kv rotations_per_sec "$R_S")") | $(kv failures "$R_S") | $(kv statuses "$R_S") |"
    if [[ $PG_BASE != off ]]; then
        echo "| PostgreSQL (${PG_BASE#*@}, fresh database) | $(num "$(kv rotations_per_sec "$R_P")") | $(kv failures "$R_P") | $(kv statuses "$R_P") |"
    else
        echo "| PostgreSQL | not measured (BENCH_PG=off) | | |"
    fi
    echo
    echo "## 5. Peak memory under $MEMORY_CONNECTIONS keep-alive connections (wrk -t2 -c$MEMORY_CONNECTIONS, authenticated proxied GET)"
    echo
    echo "| process (fresh for the run) | RSS when ready MiB | peak RSS (VmHWM) MiB | req/s | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| Portcullis | $M_P_IDLE | **$M_P** | $(num "$(kv rps "$M_PB")") | $(ms "$(kv p99_us "$M_PB")") | $(kv status_errors "$M_PB") |"
    echo "| bare reverse proxy | $M_B_IDLE | **$M_B** | $(num "$(kv rps "$M_BB")") | $(ms "$(kv p99_us "$M_BB")") | $(kv status_errors "$M_BB") |"
    echo "| Node stack (Next.js + NestJS), per process | | 200–280 | | | |"
    echo
    echo "- Portcullis / bare proxy peak RSS: **$(ratio "$M_P" "$M_B")×**"
    echo "- The Node figure is a reference measured by others, **not measured here**."
    echo
    echo "## 6. Start to ready (\`portcullis serve\` spawned → first 200 from \`/readyz\`, polled every ~1 ms)"
    echo
    echo "| database | median ms | runs (ms) |"
    echo "|---|---:|---|"
    echo "| fresh SQLite file (created, migrated, first key) | **$RF_MED** | $READY_FRESH|"
    echo "| existing SQLite file | **$RE_MED** | $READY_EXISTING|"
    echo
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
