#!/usr/bin/env bash
# Profiles Portcullis serving proxied GETs to the trivial upstream and prints
# where the time goes: with `perf record` (call graphs) when the machine has
# hardware counters, else with valgrind's callgrind, which counts
# instructions over a fixed number of requests and so gives the same figures
# on a busy machine as on a quiet one. See bench/README.md.
#
# Knobs (environment):
#   PROFILE_TOOL          auto (default), perf or callgrind; perf without
#                         hardware counters samples the cpu-clock instead
#   PROFILE_REQUESTS      callgrind: requests profiled (default 20000)
#   PROFILE_SECONDS       perf: seconds of load recorded (default 10)
#   PROFILE_CONNECTIONS   wrk connections (default 16)
#   PROFILE_PATH          what wrk requests: /api/notes (default, proxied) or
#                         /api/auth/session
#   PROFILE_TOP           lines in each listing (default 30)
#   BENCH_PORTCULLIS      profile another portcullis binary (build it with
#                         `cargo build --profile profiling` for its symbols)
#   PORTCULLIS_*          passed through, e.g. PORTCULLIS_LOG=warn
#
# Keeps the profile and the printed report in bench/results/profile/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TOOL=${PROFILE_TOOL:-auto}
REQUESTS=${PROFILE_REQUESTS:-20000}
SECONDS_RECORDED=${PROFILE_SECONDS:-10}
CONNECTIONS=${PROFILE_CONNECTIONS:-16}
REQUEST_PATH=${PROFILE_PATH:-/api/notes}
TOP=${PROFILE_TOP:-30}
PASSWORD="bench password, long enough"
for n in REQUESTS SECONDS_RECORDED CONNECTIONS TOP; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || { echo "profile.sh: $n must be a whole number above zero" >&2; exit 2; }
done

# shellcheck source=bench/lib.sh
source bench/lib.sh

for tool in curl awk cargo; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
need_debian wrk wrk

# Hardware counters (an instructions count) are what makes perf's samples
# meaningful per instruction; VMs often have none.
hardware_counters() { perf stat -x, -e instructions true 2>&1 >/dev/null | grep -qE '^[0-9]+,'; }
if [[ $TOOL == auto ]]; then
    if command -v perf >/dev/null && hardware_counters; then TOOL=perf; else TOOL=callgrind; fi
fi
case $TOOL in
perf)
    need_debian perf linux-perf
    PERF_EVENT=cpu-clock
    hardware_counters && PERF_EVENT=cycles
    ;;
callgrind) need_debian valgrind valgrind ;;
*) die "PROFILE_TOOL must be auto, perf or callgrind" ;;
esac

log "building with the profiling profile (release + line tables)"
cargo build --profile profiling --quiet -p portcullis -p upstream-api -p portcullis-bench --bins ||
    die "cargo build failed"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/profiling
PORTCULLIS=${BENCH_PORTCULLIS:-$TARGET/portcullis}
[[ -x $PORTCULLIS ]] || die "$PORTCULLIS is not an executable"
OUT=bench/results/profile
rm -rf "$OUT"
mkdir -p "$OUT"
RAW=$OUT

export PORTCULLIS_ACCESS_TOKEN_TTL=1d
export PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS=off
export PORTCULLIS_ADDRESS_LOGIN_FAILURES=off
export PORTCULLIS_ADDRESS_REGISTRATIONS=off
export PORTCULLIS_ADDRESS_REFRESHES=off
export PORTCULLIS_SHUTDOWN_TIMEOUT=2s

read -r T_PORT P_PORT < <("$TARGET/free-port" --count 2) || die "no free ports"
T_URL=http://127.0.0.1:$T_PORT
P_URL=http://127.0.0.1:$P_PORT
start trivial-upstream "$TARGET/trivial-upstream" --bind "127.0.0.1:$T_PORT"
wait_for "$PID" "$T_URL/" 200

serve=("$PORTCULLIS" serve --bind "127.0.0.1:$P_PORT" --database-url "sqlite://$WORK/portcullis.db" --upstream "$T_URL")
if [[ $TOOL == callgrind ]]; then
    # Instrumentation starts switched off: start-up, the sign-up and the
    # warm-up are not counted, only the requests between -i on and -i off.
    start portcullis valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$OUT/callgrind.out" "${serve[@]}"
else
    start portcullis "${serve[@]}"
fi
P_PID=$PID
wait_for "$P_PID" "$P_URL/readyz" 200

STATUS=$(curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Origin: $P_URL" --data "{\"username\":\"bench\",\"email\":\"bench@bench.invalid\",\"password\":\"$PASSWORD\"}" \
    "$P_URL/api/auth/register") || die "registration: curl failed"
[[ $STATUS == 201 ]] || die "registration answered $STATUS: $(cat "$WORK/body")"
CK=$(tr -d '\r' <"$WORK/headers" | awk 'tolower($1) == "set-cookie:" { sub(/^[^:]*: */, ""); sub(/;.*/, ""); printf "%s%s", sep, $0; sep = "; " }')
wait_for "$P_PID" "$P_URL$REQUEST_PATH" 200 -H "Cookie: $CK"

log "warming up (2 s)"
wrk -t1 -c"$CONNECTIONS" -d 2s -H "Cookie: $CK" "$P_URL$REQUEST_PATH" >"$OUT/warmup.txt" 2>&1 || die "warm-up failed"

if [[ $TOOL == callgrind ]]; then
    log "callgrind: $REQUESTS requests to $REQUEST_PATH (wrk -t1 -c$CONNECTIONS)"
    callgrind_control -i on "$P_PID" >/dev/null || die "callgrind_control -i on failed"
    BENCH_REQUESTS=$REQUESTS BENCH_DONE_FILE=$WORK/done wrk --timeout 30s -t1 -c"$CONNECTIONS" -d 3600s \
        -s bench/count.lua -H "Cookie: $CK" "$P_URL$REQUEST_PATH" >"$OUT/wrk.txt" 2>&1 &
    LOAD=$!
    PIDS+=("$LOAD")
    until [[ -e $WORK/done ]]; do
        kill -0 "$LOAD" 2>/dev/null || die "wrk ended early: $(tail -n 3 "$OUT/wrk.txt")"
        sleep 0.2
    done
    kill -INT "$LOAD"
    wait "$LOAD" || die "wrk failed: $(tail -n 3 "$OUT/wrk.txt")"
    forget_pid "$LOAD"
    callgrind_control -i off "$P_PID" >/dev/null || die "callgrind_control -i off failed"
    # valgrind writes the profile when the process exits; give it time.
    kill -TERM "$P_PID"
    for ((i = 0; i < 600; i++)); do kill -0 "$P_PID" 2>/dev/null || break; sleep 0.2; done
    wait "$P_PID" 2>/dev/null || true
    forget_pid "$P_PID"
    [[ -s $OUT/callgrind.out ]] || die "callgrind wrote no profile (see $WORK/portcullis.log)"
else
    log "perf ($PERF_EVENT, call graphs from DWARF): $SECONDS_RECORDED s of load on $REQUEST_PATH (wrk -t1 -c$CONNECTIONS)"
    perf record -e "$PERF_EVENT" -F 999 --call-graph dwarf -p "$P_PID" -o "$OUT/perf.data" \
        -- sleep "$SECONDS_RECORDED" >"$WORK/perf.log" 2>&1 &
    RECORDER=$!
    PIDS+=("$RECORDER")
    wrk --timeout 30s -t1 -c"$CONNECTIONS" -d "${SECONDS_RECORDED}s" -s bench/report.lua \
        -H "Cookie: $CK" "$P_URL$REQUEST_PATH" >"$OUT/wrk.txt" 2>&1 || die "wrk failed: $(tail -n 3 "$OUT/wrk.txt")"
    wait "$RECORDER" || die "perf record failed: $(tail -n 3 "$WORK/perf.log")"
    forget_pid "$RECORDER"
fi
BENCH=$(grep '^BENCH ' "$OUT/wrk.txt") || die "no result line from wrk"
ANSWERED=$(kv requests "$BENCH")
[[ $(kv status_errors "$BENCH") == 0 ]] || log "note: $(kv status_errors "$BENCH") answers were errors"

# group_self TOTAL REQUESTS: sums the self cost of each function (lines
# "COST<tab>NAME" on stdin; a name starting with "[kernel] " is the kernel's) into the part of the stack it belongs to, by the crate or symbol it
# is named after, and prints each group's share. Self costs add up to the
# total, so the groups do too.
group_self() {
    awk -F'\t' -v total="$1" -v n="$2" '
    function group(f,   lead) {
        if (f ~ /^\[kernel\] /) return "kernel (perf only: TCP over loopback, wake-ups, syscalls)"
        if (f ~ /^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|malloc_consolidate|unlink_chunk|tcache_|__libc_(malloc|free|realloc|calloc)|__rust_(alloc|dealloc|realloc)|__rdl_|alloc::alloc::)/) return "allocation (malloc/free)"
        if (f ~ /(^|_)_?mem(cpy|move|set|cmp)|^__mem|^bcmp|^strlen/) return "memcpy/memset/memcmp"
        if (f ~ /^sqlite3|^pcache1?[A-Z]|^btree[A-Z]|^vdbe[A-Z]|^unixRead|^unixWrite/) return "database (sqlx, SQLite, PostgreSQL driver)"
        lead = f
        sub(/^(<|&|mut |dyn |\(|\*const |\*mut )+/, "", lead)
        # <T as core::fmt::Debug>::fmt belongs to the crate of the trait.
        if (lead ~ /^[^:]* as /) sub(/^[^:]* as /, "", lead)
        sub(/::.*/, "", lead)
        if (lead == "portcullis" || f ~ /portcullis::/) {
            if (f ~ /observe|access_log|request_span/) return "tracing, access log"
            if (f ~ /request_id/) return "request id"
            if (f ~ /telemetry|metric/) return "metrics"
            if (f ~ /gateway::headers|rewrite_(request|response)|hop_by_hop|forward/) return "header rewriting"
            if (f ~ /cookie/) return "cookie parsing"
            if (f ~ /verified_tokens|revocation|authenticat|tokens/) return "token check (cache, revocation)"
            if (f ~ /store::|records::/) return "database (sqlx, SQLite, PostgreSQL driver)"
        }
        # In Portcullis only tracing-appender uses crossbeam-channel: its
        # writer thread waiting for lines.
        if (lead ~ /^(tracing|tracing_core|tracing_subscriber|tracing_appender|tracing_log|sharded_slab|nu_ansi_term|crossbeam_channel)$/) return "tracing, access log"
        if (lead ~ /^(fastrand|rand|rand_core|getrandom)$/) return "request id"
        if (lead ~ /^(metrics|metrics_util|metrics_exporter_prometheus|quanta|portable_atomic|crossbeam_epoch)$/) return "metrics"
        if (lead ~ /^(cookie)$/) return "cookie parsing"
        if (lead ~ /^(sha2|jsonwebtoken|ed25519_dalek|curve25519_dalek|portcullis_verifier|serde_json|base64|uuid)$/) return "token check (cache, revocation)"
        if (lead ~ /^(sqlx|sqlx_core|sqlx_sqlite|sqlx_postgres|flume|event_listener|hashlink|futures_intrusive|atoi|libsqlite3_sys)$/) return "database (sqlx, SQLite, PostgreSQL driver)"
        if (lead ~ /^(hyper|hyper_util|httparse|http|http_body|http_body_util|h2|want|try_lock)$/) return "hyper, http"
        if (lead ~ /^(tokio|mio|parking_lot|parking_lot_core|crossbeam_utils)$/) return "tokio"
        if (lead ~ /^(axum|axum_core|tower|tower_http|tower_layer|tower_service|matchit|futures_util|futures_core|pin_project_lite)$/) return "axum, tower"
        if (lead ~ /^(core|alloc|std|hashbrown|bytes|smallvec|time|itoa|ryu|memchr|dashmap)$/) return "std and small crates (fmt, drops, maps, bytes)"
        if (lead == "portcullis") return "portcullis, other"
        if (f !~ /::/) return "libc: syscall wrappers, locks, clock"
        return "other: " lead
    }
    { cost[group($2)] += $1 }
    END {
        for (g in cost)
            if (n > 0) printf "%12.0f /req  %5.1f%%  %s\n", cost[g] / n, 100 * cost[g] / total, g
            else printf "%5.1f%%  %s\n", 100 * cost[g] / total, g
    }' | sort -rn
}

# functions yes|no: "COST<tab>FUNCTION" of every function, inclusive or
# self, most costly first. callgrind_annotate lists a function once per
# source file its instructions come from (inlined code): the self costs of
# those parts add up, while the part of the function's own file already
# includes the others in its inclusive cost, so the largest part is taken.
functions() {
    callgrind_annotate --auto=no --inclusive="$1" --threshold=100 "$OUT/callgrind.out" 2>/dev/null |
        awk -v inclusive="$1" '/^ *[0-9,]+ / && !/PROGRAM TOTALS/ {
            c = $1; gsub(/,/, "", c)
            sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "")
            sub(/ \[[^]]*\]$/, "")
            sub(/^[^:]*:/, "")
            if (inclusive == "no") cost[$0] += c; else if (c + 0 > cost[$0] + 0) cost[$0] = c
        } END { for (f in cost) printf "%.0f\t%s\n", cost[f], f }' | sort -t"$(printf '\t')" -k1,1nr
}

# perf_symbols children|no-children: perf report's symbol lines, most
# samples first, without its padding.
perf_symbols() {
    perf report -i "$OUT/perf.data" --stdio "--$1" --sort symbol -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//'
}

# listing TOTAL REQUESTS: "COST<tab>FUNCTION" lines as instructions per
# request and share of the total.
listing() {
    awk -F'\t' -v total="$1" -v n="$2" '{ printf "%12.0f /req  %5.1f%%  %s\n", $1 / n, 100 * $1 / total, $2 }'
}

REPORT=$OUT/report.txt
{
    echo "Portcullis profile: $TOOL, $ANSWERED requests to $REQUEST_PATH through $PORTCULLIS"
    echo "(wrk -t1 -c$CONNECTIONS; trivial upstream; log level ${PORTCULLIS_LOG:-info} to a file)"
    echo
    if [[ $TOOL == callgrind ]]; then
        total=$(awk '/^totals:/ { print $2; exit }' "$OUT/callgrind.out")
        [[ $total =~ ^[1-9][0-9]*$ ]] || die "no instruction total in the profile"
        echo "Instructions: $total in total, $(awk -v t="$total" -v n="$ANSWERED" 'BEGIN { printf "%.0f", t / n }') per request (user space only: callgrind does not see the kernel)."
        echo
        if grep -qw sha_ni /proc/cpuinfo && functions no | grep -q 'sha2::sha256::soft'; then
            echo "Note: this CPU has SHA-NI, which valgrind hides, so sha2 ran its portable code here:"
            echo "SHA-256 costs several times fewer instructions outside valgrind."
            echo
        fi
        echo "== Self cost by part of the stack (the groups add up to the total) =="
        functions no | group_self "$total" "$ANSWERED"
        echo
        echo "== Top $TOP functions, inclusive (self + callees) =="
        echo "(Generic functions are named without their type parameters, so every instance of, say,"
        echo "Map<Fut, F>::poll counts as one recursive function; entries above 100 % are left out.)"
        functions yes | awk -F'\t' -v t="$total" '$1 <= t' | awk -v n="$TOP" 'NR <= n' | listing "$total" "$ANSWERED"
        echo
        echo "== Portcullis's own steps, inclusive (and every tracing event and span) =="
        functions yes | awk -F'\t' '$2 ~ /^(portcullis::|<portcullis::)/ || $2 == "tracing_core::dispatcher::get_default"' |
            awk -v n="$TOP" 'NR <= n' | listing "$total" "$ANSWERED"
        echo
        echo "== Top $TOP functions, self =="
        functions no | awk -v n="$TOP" 'NR <= n' | listing "$total" "$ANSWERED"
    else
        echo "CPU-clock samples of the Portcullis process: the shares below are of its CPU time,"
        echo "user and kernel together, while wrk answered $ANSWERED requests."
        echo
        echo "== Self samples by part of the stack =="
        perf_symbols no-children | awk '{
            pct = $1; sub(/%$/, "", pct); kind = $2; $1 = ""; $2 = ""; sub(/^ +/, "")
            print pct "\t" (kind == "[k]" ? "[kernel] " : "") $0
        }' | group_self 100 0
        echo
        echo "== Top $TOP symbols, children included (self in the second column) =="
        perf_symbols children | awk -v n="$TOP" 'NR <= n'
        echo
        echo "== Top $TOP symbols, self =="
        perf_symbols no-children | awk -v n="$TOP" 'NR <= n'
    fi
} >"$REPORT"
cat "$REPORT"
FAILED=0
log "profile and report kept in $OUT/"
