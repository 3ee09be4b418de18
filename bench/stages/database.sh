# shellcheck shell=bash
# Stages 5 and 6 of bench/run.sh (sourced): the database-bound figures.
#
# 5. Refresh-token rotations per second (bench/tools refresh-load) on SQLite
#    and on PostgreSQL, each on a fresh Portcullis and database.
# 6. Start to ready (bench/tools ready-time): the time from spawning
#    `portcullis serve` to its first 200 from /readyz, on a fresh SQLite file
#    and on an existing one.

# refresh_load NAME URL: sets REFRESH to refresh-load's result line.
refresh_load() {
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

# refresh_row LABEL LINE
refresh_row() {
    echo "| $1 | $(num "$(kv rotations_per_sec "$2")") | $(ms "$(kv p50_us "$2")") | $(ms "$(kv p99_us "$2")") | $(kv failures "$2") | $(kv statuses "$2") |"
}

# ready DATABASE_FILE: prints the milliseconds from spawn to ready.
ready() {
    local out port
    port=$(port)
    out=$("$TARGET/ready-time" --addr "127.0.0.1:$port" -- "$PORTCULLIS" serve \
        --bind "127.0.0.1:$port" --database-url "sqlite://$1" 2>>"$WORK/ready.log") ||
        die "ready-time failed (see ready.log)"
    kv ready_ms "$out"
}

stage_database() {
    local port r_sqlite r_pg="" fresh="" existing="" i
    log "5. refresh rotations on SQLite"
    port=$(port)
    start_portcullis portcullis-refresh "$port" "sqlite://$WORK/refresh.db"
    refresh_load refresh-sqlite "http://127.0.0.1:$port"
    r_sqlite=$REFRESH
    stop_pid "$PID"
    if [[ $PG_BASE != off ]]; then
        log "5. refresh rotations on PostgreSQL"
        create_pg_database
        port=$(port)
        start_portcullis portcullis-refresh-pg "$port" "$PG_BASE/$PG_DB"
        refresh_load refresh-postgres "http://127.0.0.1:$port"
        r_pg=$REFRESH
        stop_pid "$PID"
    fi

    log "6. start to ready, $READY_RUNS × fresh database and $READY_RUNS × existing database"
    for ((i = 1; i <= READY_RUNS; i++)); do fresh+="$(ready "$WORK/ready-$i.db") "; done
    for ((i = 1; i <= READY_RUNS; i++)); do existing+="$(ready "$WORK/ready-1.db") "; done

    {
        echo "## 5. Refresh-token rotations ($REFRESH_SESSIONS sessions, one loop each, \`bench/tools\` refresh-load, ${DURATION} s)"
        echo
        echo "| database | rotations/s | p50 ms | p99 ms | failures | statuses |"
        echo "|---|---:|---:|---:|---:|---|"
        refresh_row "SQLite (file in a temporary directory)" "$r_sqlite"
        if [[ -n $r_pg ]]; then
            refresh_row "PostgreSQL (${PG_BASE#*@}, fresh database)" "$r_pg"
        else
            echo "| PostgreSQL | not measured (BENCH_PG=off) | | | | |"
        fi
        echo
        echo "## 6. Start to ready (\`portcullis serve\` spawned → first 200 from \`/readyz\`, polled every ~1 ms)"
        echo
        echo "| database | median ms | runs (ms) |"
        echo "|---|---:|---|"
        echo "| fresh SQLite file (created, migrated, first key) | **$(median <<<"$fresh")** | $fresh|"
        echo "| existing SQLite file | **$(median <<<"$existing")** | $existing|"
        echo
    } >>"$BODY"
}
