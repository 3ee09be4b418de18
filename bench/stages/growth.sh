# shellcheck shell=bash
# Stage 7 of bench/run.sh (sourced): how Portcullis grows with its database.
#
# For SQLite and (unless BENCH_PG=off) PostgreSQL, two databases seeded by
# bench/seed.sh: an almost empty one (100 users, 100 sessions) and a full one
# (GROWTH_USERS users, GROWTH_SESSIONS sessions with two refresh tokens each,
# GROWTH_REVOKED of them revoked minutes ago). A Portcullis on each, taking
# turns for ROUNDS rounds of: a sign-in flood over random seeded accounts,
# refresh rotations (refresh-load), GET /api/auth/session. Then the memory the
# revocation set takes: the RSS of a Portcullis on the full database loading
# the recent revocations (access tokens of 1 day) against one loading none
# (access tokens of 1 s, whose horizon ends before them).

EMPTY_USERS=100
EMPTY_SESSIONS=100

# seed_database KIND VARIANT: a new database of KIND (sqlite or postgres),
# seeded for VARIANT (empty or seeded); sets DB_URL, and SEED to seed.sh's line.
seed_database() {
    local users=$EMPTY_USERS sessions=$EMPTY_SESSIONS revoked=0
    if [[ $2 == seeded ]]; then
        users=$GROWTH_USERS sessions=$GROWTH_SESSIONS revoked=$GROWTH_REVOKED
    fi
    if [[ $1 == sqlite ]]; then
        DB_URL=sqlite://$WORK/growth-$2.db
    else
        create_pg_database
        DB_URL=$PG_BASE/$PG_DB
    fi
    SEED=$(bench/seed.sh --database-url "$DB_URL" --users "$users" --sessions "$sessions" \
        --revoked "$revoked" --password "$PASSWORD" --portcullis "$PORTCULLIS" 2>"$WORK/seed-$1-$2.log") ||
        die "bench/seed.sh failed for $1 ($2): $(tail -n 3 "$WORK/seed-$1-$2.log")"
}

# growth_instance NAME DATABASE_URL: a Portcullis, settled; sets PID, URL and
# RSS_KIB (its RSS once the start-up work is done).
growth_instance() {
    local port
    port=$(port)
    URL=http://127.0.0.1:$port
    start_portcullis "$1" "$port" "$2"
    RSS_KIB=$(settle "$PID")
}

# growth_round KIND VARIANT ROUND URL USERS COOKIE PID: the three measurements.
growth_round() {
    local row=growth-$1-$2 round=$3 url=$4 users=$5 cookie=$6 pid=$7 out
    BENCH_LOGIN_USERS=$users BENCH_LOGIN_PASSWORD=$PASSWORD BENCH_ORIGIN=$url \
        wrk --timeout 10s -t1 -c"$LOGIN_CONNECTIONS" -d "${DURATION}s" --latency -s bench/login.lua \
        "$url/api/auth/login" >"$RAW/$row-signin.r$round.txt" 2>&1 ||
        die "sign-in flood ($row) failed: $(tail -n 3 "$RAW/$row-signin.r$round.txt")"
    echo "row=$row-signin round=$round $(flood_figures "$row-signin.r$round")" >>"$RESULTS"

    "$TARGET/refresh-load" --url "$url" --sessions "$REFRESH_SESSIONS" --seconds "$DURATION" \
        --username refresher --password "$PASSWORD" >"$RAW/$row-refresh.r$round.txt" 2>&1 ||
        die "refresh-load ($row) failed: $(tail -n 3 "$RAW/$row-refresh.r$round.txt")"
    out=$(grep '^rotations_per_sec=' "$RAW/$row-refresh.r$round.txt") || die "no result line from refresh-load ($row)"
    if [[ $(kv failures "$out") != 0 ]]; then ODD+=("$row-refresh round $round: $(kv failures "$out") failed refreshes, statuses $(kv statuses "$out")"); fi
    echo "row=$row-refresh round=$round $out" >>"$RESULTS"

    WATCH_GATEWAY=("$pid") WATCH_UPSTREAM=()
    wrk_cpu "$row-session.r$round" -t1 -c"$SESSION_CONNECTIONS" -H "Cookie: $cookie" "$url/api/auth/session"
    echo "row=$row-session round=$round $BENCH" >>"$RESULTS"
}

# sign_in_cookies URL: the cookies of a fresh session of seed1.
sign_in_cookies() {
    curl_post "$1" /api/auth/login "{\"username\":\"seed1\",\"password\":\"$PASSWORD\"}"
    [[ $STATUS == 2* ]] || die "signing in as seed1 at $1 answered $STATUS: $(cat "$WORK/body")"
    echo "$COOKIES"
}

# growth_kind KIND: everything for one database; appends its rows to $GROWTH_REPORT.
growth_kind() {
    local kind=$1 empty_url seeded_url empty_seed seeded_seed
    log "7. growth on $kind: seeding an almost empty database and one of $GROWTH_USERS users, $GROWTH_SESSIONS sessions"
    seed_database "$kind" empty
    empty_url=$DB_URL empty_seed=$SEED
    seed_database "$kind" seeded
    seeded_url=$DB_URL seeded_seed=$SEED
    log "  seeded in $(kv seed_seconds "$seeded_seed") s (+ $(kv template_seconds "$seeded_seed") s for the schema and the one real hash)"

    # Memory first, while the recent revocations are minutes old.
    local saved_ttl=$PORTCULLIS_ACCESS_TOKEN_TTL rss_none rss_set rss_empty
    export PORTCULLIS_ACCESS_TOKEN_TTL=1s
    growth_instance "portcullis-$kind-no-set" "$seeded_url"
    rss_none=$RSS_KIB
    stop_pid "$PID"
    export PORTCULLIS_ACCESS_TOKEN_TTL=$saved_ttl
    growth_instance "portcullis-$kind-seeded" "$seeded_url"
    rss_set=$RSS_KIB
    local seeded_pid=$PID s_url=$URL
    growth_instance "portcullis-$kind-empty" "$empty_url"
    rss_empty=$RSS_KIB
    local empty_pid=$PID e_url=$URL

    local e_ck s_ck r
    e_ck=$(sign_in_cookies "$e_url")
    s_ck=$(sign_in_cookies "$s_url")
    if ((WARMUP > 0)); then
        wrk -t1 -c"$SESSION_CONNECTIONS" -d "${WARMUP}s" -H "Cookie: $e_ck" "$e_url/api/auth/session" >/dev/null 2>&1
        wrk -t1 -c"$SESSION_CONNECTIONS" -d "${WARMUP}s" -H "Cookie: $s_ck" "$s_url/api/auth/session" >/dev/null 2>&1
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        log "  round $r of $ROUNDS: almost empty, then seeded"
        growth_round "$kind" empty "$r" "$e_url" "$EMPTY_USERS" "$e_ck" "$empty_pid"
        growth_round "$kind" seeded "$r" "$s_url" "$GROWTH_USERS" "$s_ck" "$seeded_pid"
    done
    stop_pid "$seeded_pid"
    stop_pid "$empty_pid"

    local label measure key unit e s slow p99
    label=$([[ $kind == sqlite ]] && echo SQLite || echo PostgreSQL)
    for measure in signin:signins_per_sec:sign-ins/s refresh:rotations_per_sec:rotations/s session:rps:req/s; do
        IFS=: read -r measure key unit <<<"$measure"
        e=growth-$kind-empty-$measure s=growth-$kind-seeded-$measure
        slow=$(ratio "$(med "$e" "$key")" "$(med "$s" "$key")")
        p99=$(ratio "$(med "$s" p99_us)" "$(med "$e" p99_us)")
        echo "| $label | ${measure/signin/sign-in} ($unit) | $(num "$(med "$e" "$key")"), p99 $(ms "$(med "$e" p99_us)") ms | $(num "$(med "$s" "$key")"), p99 $(ms "$(med "$s" p99_us)") ms | **${slow}×**$(round_ratios "$e" "$s" "$key") | ${p99}× | $(verdict "$slow" '<=' 1.2) |" >>"$GROWTH_REPORT"
    done
    awk -v k="$label" -v e="$rss_empty" -v s="$rss_set" -v n="$rss_none" -v r="$GROWTH_REVOKED" 'BEGIN {
        printf "| %s | %.1f | %.1f | %.1f | **%.1f** | %s |\n", k, e / 1024, n / 1024, s / 1024, (s - n) / 1024,
            (r > 0 ? sprintf("%.0f", (s - n) * 1024 / r) : "n/a")
    }' >>"$GROWTH_MEMORY"
    echo "| $label | $(kv seed_seconds "$seeded_seed") | $(kv template_seconds "$seeded_seed") | $(kv seed_seconds "$empty_seed") |" >>"$GROWTH_SEEDING"
}

stage_growth() {
    GROWTH_REPORT=$WORK/growth-rows.md GROWTH_MEMORY=$WORK/growth-memory.md GROWTH_SEEDING=$WORK/growth-seeding.md
    : >"$GROWTH_REPORT"
    : >"$GROWTH_MEMORY"
    : >"$GROWTH_SEEDING"
    growth_kind sqlite
    if [[ $PG_BASE != off ]]; then growth_kind postgres; fi
    {
        echo "## 7. Growth: $(num "$GROWTH_USERS") users and $(num "$GROWTH_SESSIONS") sessions against an almost empty database"
        echo
        echo "Seeded by \`bench/seed.sh\`: $GROWTH_USERS users sharing one real argon2id hash, $GROWTH_SESSIONS live sessions"
        echo "spread over them with two refresh tokens each, $GROWTH_REVOKED of them revoked 5–10 minutes before the"
        echo "start and one in ten of the rest long ago; the almost empty database has $EMPTY_USERS users and"
        echo "$EMPTY_SESSIONS sessions. A Portcullis on each, taking turns for $ROUNDS round(s) (medians): a sign-in flood"
        echo "over random seeded accounts (wrk -t1 -c$LOGIN_CONNECTIONS), refresh rotations ($REFRESH_SESSIONS loops),"
        echo "\`GET /api/auth/session\` (wrk -t1 -c$SESSION_CONNECTIONS). **Slowdown** is the almost empty database's"
        echo "throughput divided by the seeded one's."
        echo
        echo "| database | measure | almost empty | seeded | slowdown | p99 seeded ÷ empty | target ≤ 1.2× |"
        echo "|---|---|---:|---:|---:|---:|---|"
        cat "$GROWTH_REPORT"
        echo
        echo "Memory of the in-memory revocation set: RSS 2 s after ready, the seeded database's"
        echo "$GROWTH_REVOKED recent revocations loaded (access tokens of 1 day) or not (access tokens of 1 s)."
        echo
        echo "| database | RSS, almost empty MiB | RSS, seeded, none loaded MiB | RSS, seeded, $GROWTH_REVOKED loaded MiB | the set MiB | bytes per revoked session |"
        echo "|---|---:|---:|---:|---:|---:|"
        cat "$GROWTH_MEMORY"
        echo
        echo "Seeding time (\`bench/seed.sh\`, one transaction per database, while nothing else of the run is active):"
        echo
        echo "| database | seeded: SQL s | seeded: schema and the one real hash s | almost empty: SQL s |"
        echo "|---|---:|---:|---:|"
        cat "$GROWTH_SEEDING"
        echo
    } >>"$BODY"
}
