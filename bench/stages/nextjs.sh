# shellcheck shell=bash
# Stage 8 of bench/run.sh (sourced): server-rendered pages of a real Next.js
# app (issue 15). `GET /` of examples/nextjs (production build, `next start`)
# is a server component that verifies the forwarded access token against
# Portcullis's JWKS and greets its user. It is requested through a Portcullis
# with `frontend_token` on (the session cookies in, the token forwarded as a
# Bearer header), and from the same `next start` reached directly with that
# token as a Bearer header from wrk, taking turns over ROUNDS rounds.
#
# Needs Node.js (20.9 or later); the example is built here (`npm ci` and
# `npm run build` in packages/next and examples/nextjs, as scripts/test.sh
# does) when it has no production build yet. BENCH_NEXTJS=off skips it.

NEXT_DIR=$ROOT/examples/nextjs
PAGE_CONNECTIONS=16

# pids_with_children PID: PID and its child processes, one a line (`next
# start` may render in a worker process of its own).
pids_with_children() {
    echo "$1"
    ps -o pid= --ppid "$1" | tr -d ' '
}

# build_nextjs: the example's production build, unless there is one.
build_nextjs() {
    [[ -f $NEXT_DIR/.next/BUILD_ID ]] && return 0
    log "8. building examples/nextjs (npm ci, next build)"
    (cd "$ROOT/packages/next" && npm ci --no-audit --no-fund && npm run build) >"$WORK/nextjs-build.log" 2>&1 ||
        die "building packages/next failed (see $WORK/nextjs-build.log)"
    (cd "$NEXT_DIR" && npm ci --no-audit --no-fund && npm run build) >>"$WORK/nextjs-build.log" 2>&1 ||
        die "building examples/nextjs failed (see $WORK/nextjs-build.log)"
}

stage_nextjs() {
    command -v node >/dev/null || die "Node.js is required for the Next.js stage (or set BENCH_NEXTJS=off)"
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' ||
        die "Node.js 20.9 or later is required for the Next.js stage (found $(node --version); or set BENCH_NEXTJS=off)"
    export NEXT_TELEMETRY_DISABLED=1
    build_nextjs
    log "8. server-rendered GET / of examples/nextjs: through Portcullis (frontend_token), straight to next start"
    local p_port n_port p_url n_url next_pid r row
    p_port=$(port)
    n_port=$(port)
    p_url=http://127.0.0.1:$p_port
    n_url=http://127.0.0.1:$n_port
    # The page only reads the token; the notes API behind it is not called.
    JWKS_URL="$p_url/.well-known/jwks.json" BACKEND_URL="http://127.0.0.1:9" \
        start nextjs node "$NEXT_DIR/node_modules/next/dist/bin/next" start "$NEXT_DIR" \
        --hostname 127.0.0.1 --port "$n_port"
    next_pid=$PID
    PORTCULLIS_FRONTEND_TOKEN=true start_portcullis portcullis-pages "$p_port" "sqlite://$WORK/pages.db" \
        --frontend "$n_url"
    local pages_pid=$PID
    wait_for "$next_pid" "$n_url/" 200
    register "$p_url" pages
    # Both ways must render the signed-in page, or the figures compare a
    # greeting with an anonymous page. (React separates the text and the
    # name with an empty comment.)
    local check
    for check in "$p_url/|Cookie: $CK" "$n_url/|Authorization: Bearer $ACCESS"; do
        curl -s -H "${check#*|}" "${check%%|*}" | grep -Eq '<h1 id="greeting">Hello, (<!-- -->)?pages<' ||
            die "GET ${check%%|*} did not render the signed-in home page"
    done

    local -a watch_next
    mapfile -t watch_next < <(pids_with_children "$next_pid")
    # WATCH_GATEWAY and WATCH_UPSTREAM are read by wrk_cpu (bench/lib.sh).
    # shellcheck disable=SC2034
    page_row() {
        case $1 in
        pages-portcullis) WATCH_GATEWAY=("$pages_pid") ROW_ARGS=(-H "Cookie: $CK" "$p_url/") ;;
        pages-direct) WATCH_GATEWAY=() ROW_ARGS=(-H "Authorization: Bearer $ACCESS" "$n_url/") ;;
        esac
        WATCH_UPSTREAM=("${watch_next[@]}")
    }
    for row in pages-portcullis pages-direct; do
        page_row "$row"
        warm_up "$row" -t1 -c"$PAGE_CONNECTIONS" "${ROW_ARGS[@]}"
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        log "  round $r of $ROUNDS: pages through Portcullis, straight to next start"
        for row in pages-portcullis pages-direct; do
            page_row "$row"
            wrk_cpu "$row.r$r" -t1 -c"$PAGE_CONNECTIONS" "${ROW_ARGS[@]}"
            echo "row=$row round=$r $BENCH" >>"$RESULTS"
        done
    done
    stop_pid "$pages_pid"
    stop_pid "$next_pid"

    local version
    version=$(node -p 'require(process.argv[1]).version' "$NEXT_DIR/node_modules/next/package.json" 2>/dev/null || echo "?")
    {
        echo "## 8. Server-rendered pages: \`GET /\` of \`examples/nextjs\` (Next.js $version, \`next start\`, wrk -t1 -c$PAGE_CONNECTIONS)"
        echo
        echo "The home page is a server component that verifies the forwarded access token against"
        echo "Portcullis's JWKS and greets its user; the upstream CPU column is \`next start\`'s."
        echo
        echo "$TABLE_HEAD"
        table_row "through Portcullis (session cookies, \`frontend_token\` on)" pages-portcullis
        table_row "straight to \`next start\` (Bearer from wrk)" pages-direct
        echo
        echo "- through Portcullis ÷ straight: throughput **$(ratio "$(med pages-portcullis rps)" "$(med pages-direct rps)")×**$(round_ratios pages-portcullis pages-direct rps), p99 **$(ratio "$(med pages-portcullis p99_us)" "$(med pages-direct p99_us)")×**$(round_ratios pages-portcullis pages-direct p99_us)"
        echo
    } >>"$BODY"
}
