# shellcheck shell=bash
# Stage 3 of bench/run.sh (sourced): memory per connection, Portcullis against
# the bare proxy, both in front of the trivial upstream, each a fresh process
# for each measurement so that nothing earlier is counted.
#
# - Busy: the peak RSS (VmHWM) under wrk -t2 -c1000 of proxied GETs.
# - Idle: RSS before and after opening IDLE_CONNECTIONS keep-alive
#   connections that each carried one request (bench/tools hold-connections);
#   the difference divided by their number is what an idle connection holds.

# fresh GATEWAY NAME: a new Portcullis or bare proxy in front of the trivial
# upstream; sets PID, URL, GW_PORT and HEADER (what a request to it needs).
fresh() {
    case $1 in
    portcullis)
        GW_PORT=$(port)
        URL=http://127.0.0.1:$GW_PORT
        start_portcullis "$2" "$GW_PORT" "$SQLITE_URL" --upstream "$T_URL"
        HEADER="Cookie: $CK"
        ;;
    bare)
        start_bare "$2" "$T_URL" 200
        GW_PORT=${URL##*:}
        HEADER="Accept: */*"
        ;;
    esac
}

# settle PID: waits for the start-up work to end (Portcullis's first dummy
# hash frees its 19 MiB buffer when it is done) and echoes the RSS in KiB.
settle() {
    sleep 2
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# busy GATEWAY: sets BUSY to "rest_mib=… peak_mib=…" plus the wrk figures.
busy() {
    local rest
    fresh "$1" "$1-busy"
    rest=$(settle "$PID")
    wrk --timeout 10s -t2 -c"$MEMORY_CONNECTIONS" -d "${DURATION}s" -s bench/report.lua \
        -H "$HEADER" "$URL/api/notes" >"$RAW/memory-busy-$1.txt" 2>&1 ||
        die "wrk for $1's busy memory failed: $(tail -n 3 "$RAW/memory-busy-$1.txt")"
    BUSY="rest_mib=$(awk -v k="$rest" 'BEGIN { printf "%.1f", k / 1024 }') peak_mib=$(vm "$PID" VmHWM)"
    BUSY+=" $(grep '^BENCH ' "$RAW/memory-busy-$1.txt")" || die "no result line from the busy-memory run of $1"
    check_errors "memory-busy-$1" "$BUSY"
    stop_pid "$PID"
}

# idle GATEWAY: sets IDLE to "before_mib=… after_mib=… per_connection_kib=… open=…".
idle() {
    local gw before after holder open i
    fresh "$1" "$1-idle"
    gw=$PID
    for ((i = 0; i < 5; i++)); do expect_200 "$URL/api/notes" -H "$HEADER"; done
    before=$(settle "$gw")
    start "hold-$1" "$TARGET/hold-connections" --addr "127.0.0.1:$GW_PORT" --count "$IDLE_CONNECTIONS" \
        --header "$HEADER"
    holder=$PID
    for ((i = 0; i < 600; i++)); do
        grep -q '^open=' "$WORK/hold-$1.log" && break
        kill -0 "$holder" 2>/dev/null || die "hold-connections against $1 failed: $(tail -n 3 "$WORK/hold-$1.log")"
        sleep 0.1
    done
    grep -q '^open=' "$WORK/hold-$1.log" || die "hold-connections did not open $IDLE_CONNECTIONS connections within 60 s"
    sleep 1
    after=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$gw/status")
    open=$(ss -Htn state established "( sport = :$GW_PORT )" | wc -l)
    ((open == IDLE_CONNECTIONS)) ||
        ODD+=("idle memory of $1: $open connections were open when its RSS was read, not $IDLE_CONNECTIONS")
    IDLE=$(awk -v b="$before" -v a="$after" -v n="$IDLE_CONNECTIONS" -v o="$open" \
        'BEGIN { printf "before_mib=%.1f after_mib=%.1f per_connection_kib=%.1f open=%d", b / 1024, a / 1024, (a - b) / n, o }')
    stop_pid "$holder"
    stop_pid "$gw"
}

stage_memory() {
    log "3. memory: $MEMORY_CONNECTIONS busy connections, then $IDLE_CONNECTIONS idle ones (fresh processes)"
    local busy_p busy_b idle_p idle_b
    busy portcullis
    busy_p=$BUSY
    busy bare
    busy_b=$BUSY
    idle portcullis
    idle_p=$IDLE
    idle bare
    idle_b=$IDLE

    local peak_ratio
    peak_ratio=$(ratio "$(kv peak_mib "$busy_p")" "$(kv peak_mib "$busy_b")")
    {
        echo "## 3. Memory per connection (in front of the trivial upstream, a fresh process for each line)"
        echo
        echo "Busy: wrk -t2 -c$MEMORY_CONNECTIONS of proxied GETs for ${DURATION} s."
        echo
        echo "| process | RSS at rest MiB | peak RSS (VmHWM) MiB | req/s | p99 ms | errors |"
        echo "|---|---:|---:|---:|---:|---:|"
        for line in "Portcullis|$busy_p" "bare reverse proxy|$busy_b"; do
            local l=${line#*|}
            echo "| ${line%%|*} | $(kv rest_mib "$l") | **$(kv peak_mib "$l")** | $(num "$(kv rps "$l")") | $(ms "$(kv p99_us "$l")") | $(kv status_errors "$l") |"
        done
        echo "| Node stack (Next.js + NestJS), per process (reference measured by others, **not here**) | | 200–280 | | | |"
        echo
        echo "- Portcullis ÷ bare proxy, peak RSS: **${peak_ratio}×** (target ≤ 1.5×: $(verdict "$peak_ratio" '<=' 1.5))"
        echo
        echo "Idle: $IDLE_CONNECTIONS keep-alive connections, each after one proxied GET (one at a time, so"
        echo "the proxy keeps one connection to the upstream), then held open without traffic."
        echo
        echo "| process | RSS before MiB | RSS with the idle connections MiB | KiB per idle connection | open when read |"
        echo "|---|---:|---:|---:|---:|"
        for line in "Portcullis|$idle_p" "bare reverse proxy|$idle_b"; do
            local l=${line#*|}
            echo "| ${line%%|*} | $(kv before_mib "$l") | $(kv after_mib "$l") | **$(kv per_connection_kib "$l")** | $(kv open "$l") |"
        done
        echo
        echo "- Portcullis ÷ bare proxy, memory per idle connection: **$(ratio "$(kv per_connection_kib "$idle_p")" "$(kv per_connection_kib "$idle_b")")×**"
        echo
    } >>"$BODY"
}
