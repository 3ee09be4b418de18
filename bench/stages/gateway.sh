# shellcheck shell=bash
# Stages 1 and 2 of bench/run.sh (sourced): what a proxied request costs.
#
# 1. Against the trivial upstream (bench/tools trivial-upstream), which answers
#    at once, so that the proxy's own cost is what is measured: straight to
#    it, through the bare hyper proxy, through nginx (the field's reference),
#    through Portcullis with session cookies, and Portcullis's own
#    GET /api/auth/session. These rows gate: their ratios are the targets.
# 2. Against the realistic upstream (examples/upstream-api, which verifies the
#    access token's Ed25519 signature on every request): straight, bare proxy,
#    Portcullis. Its own CPU caps every row, so it says what a deployment
#    sees rather than what Portcullis costs.
#
# Rows take turns within each of ROUNDS rounds and the report gives each
# figure's median; every round's line is kept in $RESULTS.

RESULTS=$RAW/results.txt

# start_trivial: the trivial upstream; sets T_PID, T_PORT, T_URL.
start_trivial() {
    T_PORT=$(port)
    T_URL=http://127.0.0.1:$T_PORT
    start trivial-upstream "$TARGET/trivial-upstream" --bind "127.0.0.1:$T_PORT"
    T_PID=$PID
    wait_for "$T_PID" "$T_URL/" 200
}

# start_bare NAME UPSTREAM_URL EXPECTED_STATUS: a bare proxy; sets PID and URL.
start_bare() {
    local port
    port=$(port)
    URL=http://127.0.0.1:$port
    start "$1" "$TARGET/bare-proxy" --bind "127.0.0.1:$port" --upstream "$2"
    wait_for "$PID" "$URL/api/notes" "$3"
}

# start_nginx UPSTREAM_PORT: nginx as a reverse proxy as one would tune it for
# this: 2 workers (one per CPU here), keep-alive to the upstream, no access
# log, no limit on the requests per connection (hyper has none either); sets
# N_URL and N_PIDS (the master first, then the workers).
start_nginx() {
    local dir=$WORK/nginx port workers
    port=$(port)
    N_URL=http://127.0.0.1:$port
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    upstream app {
        server 127.0.0.1:$1;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
    start nginx nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    wait_for "$PID" "$N_URL/api/notes" 200
    mapfile -t workers < <(ps -o pid= --ppid "$PID" | tr -d ' ')
    ((${#workers[@]} == 2)) || die "nginx started ${#workers[@]} workers, not 2"
    N_PIDS=("$PID" "${workers[@]}")
}

# row_setup ROW: the processes to watch and wrk's arguments for a row.
row_setup() {
    case $1 in
    direct) WATCH_GATEWAY=() WATCH_UPSTREAM=("$T_PID") ROW_ARGS=("$T_URL/api/notes") ;;
    bare) WATCH_GATEWAY=("$TB_PID") WATCH_UPSTREAM=("$T_PID") ROW_ARGS=("$TB_URL/api/notes") ;;
    nginx) WATCH_GATEWAY=("${N_PIDS[@]}") WATCH_UPSTREAM=("$T_PID") ROW_ARGS=("$N_URL/api/notes") ;;
    portcullis) WATCH_GATEWAY=("$P_PID") WATCH_UPSTREAM=("$T_PID") ROW_ARGS=(-H "Cookie: $CK" "$P_URL/api/notes") ;;
    session) WATCH_GATEWAY=("$P_PID") WATCH_UPSTREAM=("$T_PID") ROW_ARGS=(-H "Cookie: $CK" "$P_URL/api/auth/session") ;;
    api-direct) WATCH_GATEWAY=() WATCH_UPSTREAM=("$U_PID") ROW_ARGS=(-H "Authorization: Bearer $ACCESS" "$U_URL/api/notes") ;;
    api-bare) WATCH_GATEWAY=("$UB_PID") WATCH_UPSTREAM=("$U_PID") ROW_ARGS=(-H "Authorization: Bearer $ACCESS" "$UB_URL/api/notes") ;;
    api-portcullis) WATCH_GATEWAY=("$P_PID") WATCH_UPSTREAM=("$U_PID") ROW_ARGS=(-H "Cookie: $CK" "$P_URL/api/notes") ;;
    *) die "no row $1" ;;
    esac
}

# measure_rounds ROW...: a warm-up of each row, then ROUNDS rounds in which
# the rows take turns, so that a change in the machine's load over the
# minutes of a run falls on every row alike.
measure_rounds() {
    local row r
    for row; do
        row_setup "$row"
        warm_up "$row" -t1 -c"$CONNECTIONS" "${ROW_ARGS[@]}"
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        log "  round $r of $ROUNDS: $*"
        for row; do
            row_setup "$row"
            wrk_cpu "$row.r$r" -t1 -c"$CONNECTIONS" "${ROW_ARGS[@]}"
            echo "row=$row round=$r $BENCH" >>"$RESULTS"
        done
    done
}

# values ROW KEY: the value of KEY in each round of ROW, one a line.
values() {
    awk -v row="row=$1" -v k="$2" '$1 == row {
        for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2)
    }' "$RESULTS"
}
med() { values "$1" "$2" | median; }
sum() { values "$1" "$2" | awk '{ s += $1 } END { print s + 0 }'; }

# round_ratios ROW_A ROW_B KEY: " (rounds: min–max)" of A/B over the rounds;
# nothing for one round.
round_ratios() {
    ((ROUNDS > 1)) || return 0
    paste <(values "$1" "$3") <(values "$2" "$3") | awk '$2 > 0 {
        q = $1 / $2; if (n++ == 0 || q < min) min = q; if (n == 1 || q > max) max = q
    } END { if (n) printf " (rounds: %.2f–%.2f)", min, max }'
}

# verdict VALUE OP TARGET: "met" or "missed" (OP is >= or <=).
verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "n/a") print "n/a"; else if ((op == ">=" && v + 0 >= t) || (op == "<=" && v + 0 <= t)) print "met"; else print "missed"
    }'
}

cpu_cell() { [[ -n $1 ]] && printf '%.1f' "$1" || printf '–'; }

# table_row LABEL ROW: one Markdown row of medians.
table_row() {
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(num "$(med "$2" rps)")" \
        "$(ms "$(med "$2" p50_us)")" "$(ms "$(med "$2" p99_us)")" "$(sum "$2" status_errors)" \
        "$(cpu_cell "$(med "$2" cpu_gateway_us)")" "$(cpu_cell "$(med "$2" cpu_upstream_us)")" \
        "$(cpu_cell "$(med "$2" cpu_wrk_us)")"
}
TABLE_HEAD="| | req/s | p50 ms | p99 ms | errors | CPU µs/req: gateway | upstream | wrk |
|---|---:|---:|---:|---:|---:|---:|---:|"

stage_gateway() {
    log "1. the gateway's own cost: starting the trivial upstream, Portcullis (SQLite), the bare proxy, nginx"
    start_trivial
    P_PORT=$(port)
    P_URL=http://127.0.0.1:$P_PORT
    SQLITE_URL=sqlite://$WORK/portcullis.db
    start_portcullis portcullis "$P_PORT" "$SQLITE_URL" --upstream "$T_URL"
    P_PID=$PID
    start_bare bare "$T_URL" 200
    TB_PID=$PID TB_URL=$URL
    start_nginx "$T_PORT"
    register "$P_URL" bench
    expect_200 "$P_URL/api/notes" -H "Cookie: $CK"
    expect_200 "$P_URL/api/auth/session" -H "Cookie: $CK"

    measure_rounds direct bare nginx portcullis session
    stop_pid "$TB_PID"
    stop_pid "${N_PIDS[0]}"
    stop_pid "$P_PID"

    log "2. the realistic upstream (upstream-api): Portcullis, bare proxy, direct"
    P_PORT=$(port)
    P_URL=http://127.0.0.1:$P_PORT
    U_PORT=$(port)
    U_URL=http://127.0.0.1:$U_PORT
    # Same database, so the cookies stay valid.
    start_portcullis portcullis-api "$P_PORT" "$SQLITE_URL" --upstream "$U_URL"
    P_PID=$PID
    start upstream-api "$TARGET/upstream-api" --bind "127.0.0.1:$U_PORT" --jwks-url "$P_URL/.well-known/jwks.json"
    U_PID=$PID
    wait_for "$U_PID" "$U_URL/api/notes" 401
    start_bare bare-api "$U_URL" 401
    UB_PID=$PID UB_URL=$URL
    curl_post "$P_URL" /api/notes '{"text":"a note to list"}' "$CK"
    [[ $STATUS == 201 ]] || die "POST /api/notes through Portcullis answered $STATUS: $(cat "$WORK/body")"
    expect_200 "$P_URL/api/notes" -H "Cookie: $CK"
    expect_200 "$UB_URL/api/notes" -H "Authorization: Bearer $ACCESS"

    measure_rounds api-direct api-bare api-portcullis
    stop_pid "$UB_PID"
    stop_pid "$U_PID"
    stop_pid "$P_PID"

    local through bare_p99 session_ratio nginx_ratio
    through=$(ratio "$(med portcullis rps)" "$(med bare rps)")
    bare_p99=$(ratio "$(med portcullis p99_us)" "$(med bare p99_us)")
    session_ratio=$(ratio "$(med session rps)" "$(med portcullis rps)")
    nginx_ratio=$(ratio "$(med nginx rps)" "$(med bare rps)")
    {
        echo "## 1. The gateway's own cost: \`GET /api/notes\` to a trivial upstream (wrk -t1 -c$CONNECTIONS)"
        echo
        echo "The upstream (\`trivial-upstream\` in \`bench/tools\`: hyper, multi-threaded, a fixed"
        echo "80-byte JSON answer, verifies nothing) leaves the CPUs to the proxy in front of it."
        echo
        echo "$TABLE_HEAD"
        table_row "straight to the upstream" direct
        table_row "bare hyper reverse proxy, no auth (\`bare-proxy\`)" bare
        table_row "nginx, 2 workers, upstream keep-alive, no access log (reference)" nginx
        table_row "**Portcullis, proxied GET with the session cookies**" portcullis
        table_row "**Portcullis, \`GET /api/auth/session\`**" session
        echo
        echo "| ratio (medians; per-round range in brackets) | measured | target | |"
        echo "|---|---:|---:|---|"
        echo "| proxied GET ÷ bare proxy, throughput | **${through}×**$(round_ratios portcullis bare rps) | ≥ 0.8× | $(verdict "$through" '>=' 0.8) |"
        echo "| proxied GET ÷ bare proxy, p99 | **${bare_p99}×**$(round_ratios portcullis bare p99_us) | ≤ 1.5× | $(verdict "$bare_p99" '<=' 1.5) |"
        echo "| session ÷ proxied GET, throughput | **${session_ratio}×**$(round_ratios session portcullis rps) | ≥ 0.8× | $(verdict "$session_ratio" '>=' 0.8) |"
        echo "| nginx ÷ bare proxy, throughput | ${nginx_ratio}×$(round_ratios nginx bare rps) | reference | |"
        echo "| proxied GET ÷ nginx, throughput | $(ratio "$(med portcullis rps)" "$(med nginx rps)")×$(round_ratios portcullis nginx rps) | reference | |"
        echo
        echo "- CPU per proxied request, Portcullis − bare proxy: **$(awk -v a="$(med portcullis cpu_gateway_us)" -v b="$(med bare cpu_gateway_us)" 'BEGIN { printf "%.1f", a - b }') µs**: what authentication, logging, metrics and header rewriting add to forwarding."
        echo
        echo "## 2. With a realistic upstream: \`examples/upstream-api\` (wrk -t1 -c$CONNECTIONS)"
        echo
        echo "The upstream verifies the access token's Ed25519 signature on every request: its"
        echo "CPU caps every row, as it would in a deployment on a machine this size."
        echo
        echo "$TABLE_HEAD"
        table_row "straight to the upstream (Bearer from wrk)" api-direct
        table_row "bare reverse proxy, no auth (Bearer from wrk)" api-bare
        table_row "Portcullis, proxied GET with the session cookies" api-portcullis
        echo
        echo "- Portcullis ÷ bare proxy: throughput $(ratio "$(med api-portcullis rps)" "$(med api-bare rps)")×$(round_ratios api-portcullis api-bare rps), p99 $(ratio "$(med api-portcullis p99_us)" "$(med api-bare p99_us)")×"
        echo
    } >>"$BODY"
}
