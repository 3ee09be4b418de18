# shellcheck shell=bash
# Stage 4 of bench/run.sh (sourced): sign-in floods.
#
# The ceiling is what the CPUs can hash: CPUs ÷ one argon2id verification
# (bench/tools argon2-time). Then, once with the per-address limits off (as in
# the rest of the run) and once with their defaults, each on a fresh
# Portcullis and database: GET /api/auth/session alone, a sign-in flood alone
# (bench/login.lua, one account, right password), and the session run again
# while a second flood runs. From one address, the flood with limits on is
# mostly refused with 429 after its first few attempts; the report counts
# every status.

declare -A FLOOD=()
ADDRESS_LIMITS=(PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS PORTCULLIS_ADDRESS_LOGIN_FAILURES
    PORTCULLIS_ADDRESS_REGISTRATIONS PORTCULLIS_ADDRESS_REFRESHES)

# login_flood NAME SECONDS: one flood of the `flood` account; output in $RAW/NAME.txt.
login_flood() {
    BENCH_LOGIN_BODY="{\"username\":\"flood\",\"password\":\"$PASSWORD\"}" BENCH_ORIGIN=$F_URL \
        wrk --timeout 10s -t1 -c"$LOGIN_CONNECTIONS" -d "$2s" --latency -s bench/login.lua \
        "$F_URL/api/auth/login" >"$RAW/$1.txt" 2>&1
}

# flood_figures NAME: "BENCH … LOGIN … signins_per_sec=…" of a finished flood.
flood_figures() {
    local b l
    b=$(grep '^BENCH ' "$RAW/$1.txt") || die "no result line from the sign-in flood $1"
    l=$(grep '^LOGIN ' "$RAW/$1.txt") || die "no status line from the sign-in flood $1"
    if [[ $(kv other "$l") != 0 ]]; then ODD+=("$1: statuses $(kv statuses "$l")"); fi
    echo "$b ${l#LOGIN } signins_per_sec=$(awk -v n="$(kv ok "$l")" -v us="$(kv duration_us "$b")" 'BEGIN { printf "%.1f", n / (us / 1e6) }')"
}

# flood_pass LIMITS: the three measurements on a fresh Portcullis whose
# per-address limits are `off` or `default`; sets FLOOD[LIMITS.quiet],
# FLOOD[LIMITS.alone], FLOOD[LIMITS.during] and FLOOD[LIMITS.meanwhile].
flood_pass() {
    local limits=$1 saved=() v pid flood
    if [[ $limits == default ]]; then
        for v in "${ADDRESS_LIMITS[@]}"; do saved+=("$v=${!v}") && unset "$v"; done
    fi
    local port
    port=$(port)
    F_URL=http://127.0.0.1:$port
    start_portcullis "portcullis-flood-$limits" "$port" "sqlite://$WORK/flood-$limits.db"
    pid=$PID
    for v in "${saved[@]+"${saved[@]}"}"; do export "${v?}"; done
    register "$F_URL" flood
    register "$F_URL" bench
    WATCH_GATEWAY=("$pid") WATCH_UPSTREAM=()

    warm_up "session-$limits" -t1 -c"$SESSION_CONNECTIONS" -H "Cookie: $CK" "$F_URL/api/auth/session"
    wrk_cpu "session-quiet-limits-$limits" -t1 -c"$SESSION_CONNECTIONS" -H "Cookie: $CK" "$F_URL/api/auth/session"
    FLOOD[$limits.quiet]=$BENCH

    local t0 t1 alone
    t0=$(cpu_ticks "$pid")
    login_flood "login-alone-limits-$limits" "$DURATION" || die "sign-in flood failed: $(tail -n 3 "$RAW/login-alone-limits-$limits.txt")"
    t1=$(cpu_ticks "$pid")
    alone=$(flood_figures "login-alone-limits-$limits")
    FLOOD[$limits.alone]="$alone cpu_gateway_us=$(per_request_us "$(ticks_seconds $((t1 - t0)))" "$(kv requests "$alone")")"

    # The flood starts first and outlasts the session run by a second either side.
    login_flood "login-during-limits-$limits" $((DURATION + 2)) &
    flood=$!
    PIDS+=("$flood")
    sleep 1
    wrk_cpu "session-flood-limits-$limits" -t1 -c"$SESSION_CONNECTIONS" -H "Cookie: $CK" "$F_URL/api/auth/session"
    FLOOD[$limits.during]=$BENCH
    wait "$flood" || die "the concurrent sign-in flood failed: $(tail -n 3 "$RAW/login-during-limits-$limits.txt")"
    forget_pid "$flood"
    FLOOD[$limits.meanwhile]=$(flood_figures "login-during-limits-$limits")
    stop_pid "$pid"
}

stage_flood() {
    log "4. argon2id timing and sign-in floods, per-address limits off and default"
    local argon argon_ms ceiling
    argon=$("$TARGET/argon2-time" --runs 20) || die "argon2-time failed"
    argon_ms=$(kv median_ms "$argon")
    ceiling=$(awk -v n="$NPROC" -v ms="$argon_ms" 'BEGIN { printf "%.1f", n * 1000 / ms }')
    flood_pass off
    flood_pass default

    {
        echo "## 4. Sign-in floods"
        echo
        echo "- one argon2id verification (m=19456 KiB, t=2, p=1), median of 20: **$argon_ms ms** (min $(kv min_ms "$argon"), max $(kv max_ms "$argon"))"
        echo "- ceiling = $NPROC CPUs ÷ $argon_ms ms = **$ceiling sign-ins/s** (Portcullis hashes on \`${PORTCULLIS_HASH_CONCURRENCY:-$NPROC}\` threads, \`PORTCULLIS_HASH_CONCURRENCY\`, default = CPUs)"
        echo
        echo "A flood alone: \`POST /api/auth/login\`, wrk -t1 -c$LOGIN_CONNECTIONS, one account, right password, ${DURATION} s, from 127.0.0.1."
        echo
        echo "| per-address limits | sign-ins/s (2xx) | ÷ ceiling | refused (429) | shed (503) | other | all answers/s | p50 ms | p99 ms | Portcullis CPU µs/answer |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        local limits a
        for limits in off default; do
            a=${FLOOD[$limits.alone]}
            echo "| $limits | **$(kv signins_per_sec "$a")** | $(ratio "$(kv signins_per_sec "$a")" "$ceiling")× | $(kv refused_429 "$a") | $(kv shed_503 "$a") | $(kv other "$a") | $(num "$(kv rps "$a")") | $(ms "$(kv p50_us "$a")") | $(ms "$(kv p99_us "$a")") | $(kv cpu_gateway_us "$a") |"
        done
        echo
        echo "\`GET /api/auth/session\` (wrk -t1 -c$SESSION_CONNECTIONS), quiet and while a second flood runs (it starts 1 s before and ends 1 s after):"
        echo
        echo "| per-address limits | quiet req/s | quiet p99 ms | during the flood req/s | during p99 ms | p99 during ÷ quiet | target ≤ 2× | the flood meanwhile |"
        echo "|---|---:|---:|---:|---:|---:|---|---|"
        local q d m r
        for limits in off default; do
            q=${FLOOD[$limits.quiet]} d=${FLOOD[$limits.during]} m=${FLOOD[$limits.meanwhile]}
            r=$(ratio "$(kv p99_us "$d")" "$(kv p99_us "$q")")
            echo "| $limits | $(num "$(kv rps "$q")") | $(ms "$(kv p99_us "$q")") | $(num "$(kv rps "$d")") | $(ms "$(kv p99_us "$d")") | **${r}×** | $(verdict "$r" '<=' 2) | $(kv signins_per_sec "$m") sign-ins/s; $(kv refused_429 "$m") refused (429), $(kv shed_503 "$m") shed (503); statuses $(kv statuses "$m") |"
        done
        echo
        echo "- CPU per session request, quiet → during the flood: limits off $(cpu_cell "$(kv cpu_gateway_us "${FLOOD[off.quiet]}")") → $(cpu_cell "$(kv cpu_gateway_us "${FLOOD[off.during]}")") µs, default limits $(cpu_cell "$(kv cpu_gateway_us "${FLOOD[default.quiet]}")") → $(cpu_cell "$(kv cpu_gateway_us "${FLOOD[default.during]}")") µs (during a flood it includes the flood's own work)."
        echo
    } >>"$BODY"
}
