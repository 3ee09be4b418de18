# shellcheck shell=bash
# Shared by bench/run.sh and bench/profile.sh (sourced, not run): logging,
# the processes a run starts and their cleanup, waiting for readiness, the
# wrk measurement with each process's CPU time, and small number helpers.
#
# Expects ROOT (the repository) and sets WORK (a temporary directory that is
# removed at the end unless the run failed, when the logs are kept and their
# last lines printed).

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# need_debian COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is missing.
need_debian() {
    command -v "$1" >/dev/null && return 0
    log "$1 is missing; installing Debian's $2"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y "$2" >&2 || die "apt-get install -y $2 failed"
}

# --- processes and cleanup --------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
PIDS=()
PG_DBS=()
FAILED=1

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || { forget_pid "$pid"; return 0; }
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
    local status=$? pid db
    trap - EXIT INT TERM
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
    for db in "${PG_DBS[@]+"${PG_DBS[@]}"}"; do
        psql "$PG_BASE/postgres" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 ||
            log "could not drop the PostgreSQL database $db; drop it by hand"
    done
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

# start NAME COMMAND...: a background process with its output in
# $WORK/NAME.log; sets PID.
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

# wait_for PID URL STATUS [CURL ARGS...]: until URL answers STATUS.
wait_for() {
    local pid=$1 url=$2 want=$3 got="" i
    shift 3
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || die "the process for $url exited (see its log above)"
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)
        [[ $got == "$want" ]] && return 0
        sleep 0.1
    done
    die "$url did not answer $want within 60 s (last: $got)"
}

# create_pg_database: a fresh, empty PostgreSQL database, dropped at the end;
# sets PG_DB.
create_pg_database() {
    PG_DB=bench_$(date +%s%N)_$$
    psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qc "create database $PG_DB" >/dev/null ||
        die "cannot create a PostgreSQL database at $PG_BASE"
    PG_DBS+=("$PG_DB")
}

# --- numbers ----------------------------------------------------------------

# kv KEY TEXT: the value of KEY=value in TEXT.
kv() {
    awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$2"
}
ms() { awk -v us="$1" 'BEGIN { if (us == "") print "n/a"; else printf "%.2f", us / 1000 }'; }
num() { awk -v x="$1" 'BEGIN { if (x == "") print "n/a"; else printf "%.0f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# median: of the numbers on stdin, one per line or space-separated.
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# vm PID VmHWM|VmRSS: that line of /proc/PID/status in MiB.
vm() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# --- CPU time -----------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PIDS...: user + system time of these processes (all their
# threads), in clock ticks. The command name in /proc/PID/stat may hold
# spaces, so the fields are counted after its closing parenthesis: utime and
# stime are fields 14 and 15 of the line, 12 and 13 after it.
cpu_ticks() {
    local total=0 pid rest
    for pid; do
        rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$((total + $(awk '{ print $12 + $13 }' <<<"$rest")))
    done
    echo "$total"
}

# children_cpu: sets CHILD_CPU to the user + system seconds of this shell's
# waited-for children, from the `times` builtin. It must run in this shell:
# a subshell, as in $(children_cpu), has children of its own.
children_cpu() {
    times >"$WORK/times"
    CHILD_CPU=$(awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
        printf "%.3f", s
    }' "$WORK/times")
}

# ticks_seconds TICKS: clock ticks in seconds.
ticks_seconds() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { print t / hz }'; }

# per_request_us SECONDS REQUESTS: microseconds of CPU per request.
per_request_us() { awk -v s="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", s * 1e6 / n; else print "n/a" }'; }

# --- measuring --------------------------------------------------------------

# The processes whose CPU time a measurement reports: the gateway under test
# (Portcullis, the bare proxy or nginx's workers) and the upstream; either may
# be empty. wrk's own time is read with `times`.
WATCH_GATEWAY=()
WATCH_UPSTREAM=()

ODD=()
# check_errors NAME BENCH-LINE: notes any error in the report.
check_errors() {
    local name=$1 line=$2 k v
    for k in status_errors connect_errors read_errors write_errors timeouts; do
        v=$(kv "$k" "$line")
        if [[ $v != 0 ]]; then
            ODD+=("$name: $v ${k/_/ } (raw output: bench/results/raw/$name.txt)")
            log "note: $name had $v ${k/_/ }"
        fi
    done
}

# wrk_cpu NAME WRK-ARGS...: one measured wrk run with the Lua script
# report.lua; sets BENCH to its BENCH line followed by the CPU time per
# completed request of the gateway, the upstream and wrk
# (cpu_gateway_us=… cpu_upstream_us=… cpu_wrk_us=…; empty for a process not
# watched). The whole output is kept in $RAW/NAME.txt.
wrk_cpu() {
    local name=$1 g0 u0 w0 g1 u1 w1 requests
    shift
    g0=$(cpu_ticks "${WATCH_GATEWAY[@]+"${WATCH_GATEWAY[@]}"}")
    u0=$(cpu_ticks "${WATCH_UPSTREAM[@]+"${WATCH_UPSTREAM[@]}"}")
    children_cpu
    w0=$CHILD_CPU
    wrk --timeout 10s -d "${DURATION}s" --latency -s bench/report.lua "$@" >"$RAW/$name.txt" 2>&1 ||
        die "wrk for $name failed: $(tail -n 3 "$RAW/$name.txt")"
    children_cpu
    w1=$CHILD_CPU
    g1=$(cpu_ticks "${WATCH_GATEWAY[@]+"${WATCH_GATEWAY[@]}"}")
    u1=$(cpu_ticks "${WATCH_UPSTREAM[@]+"${WATCH_UPSTREAM[@]}"}")
    BENCH=$(grep '^BENCH ' "$RAW/$name.txt") || die "no result line from wrk for $name"
    requests=$(kv requests "$BENCH")
    local gateway="" upstream=""
    if ((${#WATCH_GATEWAY[@]})); then gateway=$(per_request_us "$(ticks_seconds $((g1 - g0)))" "$requests"); fi
    if ((${#WATCH_UPSTREAM[@]})); then upstream=$(per_request_us "$(ticks_seconds $((u1 - u0)))" "$requests"); fi
    BENCH="$BENCH cpu_gateway_us=$gateway cpu_upstream_us=$upstream"
    BENCH+=" cpu_wrk_us=$(per_request_us "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" "$requests")"
    check_errors "$name" "$BENCH"
}

# warm_up NAME WRK-ARGS...: an untimed run of WARMUP seconds (none for 0).
warm_up() {
    local name=$1
    shift
    ((WARMUP > 0)) || return 0
    wrk --timeout 10s -d "${WARMUP}s" "$@" >"$RAW/$name.warmup.txt" 2>&1 ||
        die "wrk warm-up for $name failed: $(tail -n 3 "$RAW/$name.warmup.txt")"
}
