#!/usr/bin/env bash
# Fills a Portcullis database with users and sessions, quickly, for the growth
# measurement of bench/run.sh (usable by hand too; see bench/README.md):
#
#   bench/seed.sh --database-url URL --users N --sessions M [--revoked R]
#                 [--tokens T] [--password P] [--portcullis BIN]
#
# URL is sqlite://FILE (created if missing) or postgres://…/DATABASE (which
# must exist). `portcullis user add seed-template` creates the schema and one
# user with a real argon2id hash of P; every seeded user `seed1`…`seedN`
# (e-mail seedK@bench.invalid) shares that hash, so any of them can sign in
# with P, without N argon2 computations. Then plain SQL in one transaction,
# through sqlite3 or psql:
#
# - M sessions, spread evenly over the users, created in the last 29 days,
#   refreshed in the last 7 (live: the purge leaves them alone), each at
#   generation T-1 with T refresh tokens (every token it ever had, as the
#   store keeps them), the newest sealed in `successor_seal`;
# - the first R of them revoked between 5 and 10 minutes ago: within any
#   access-token lifetime of 10 minutes or more, so every instance loads them
#   into its in-memory revocation set at start, and outside the horizon of a
#   1-second lifetime (1 s + leeway + 1 min), so an instance started with
#   PORTCULLIS_ACCESS_TOKEN_TTL=1s loads none of them: the difference is the
#   set's memory;
# - one in ten of the rest signed out long ago (more than 2 days before now,
#   outside a 1-day access-token lifetime), as happens in a real table.
#
# Audit events are not seeded. Prints one line of key=value pairs with the
# counts and the seconds each part took.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
URL="" USERS="" SESSIONS="" REVOKED=0 TOKENS=2
PASSWORD="bench password, long enough"
PORTCULLIS=$ROOT/target/release/portcullis
usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
    exit 2
}
while (($#)); do
    (($# >= 2)) || usage
    case $1 in
    --database-url) URL=$2 ;;
    --users) USERS=$2 ;;
    --sessions) SESSIONS=$2 ;;
    --revoked) REVOKED=$2 ;;
    --tokens) TOKENS=$2 ;;
    --password) PASSWORD=$2 ;;
    --portcullis) PORTCULLIS=$2 ;;
    *) usage ;;
    esac
    shift 2
done
[[ -n $URL ]] || usage
for n in USERS SESSIONS REVOKED TOKENS; do
    [[ ${!n} =~ ^[0-9]+$ ]] || { echo "seed.sh: --${n,,} must be a whole number" >&2; exit 2; }
done
((USERS >= 1 && TOKENS >= 1)) || { echo "seed.sh: at least one user and one token per session" >&2; exit 2; }
((REVOKED <= SESSIONS)) || { echo "seed.sh: --revoked cannot exceed --sessions" >&2; exit 2; }
[[ -x $PORTCULLIS ]] || { echo "seed.sh: $PORTCULLIS is not an executable (--portcullis)" >&2; exit 2; }

seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# 1. Schema and the one real hash.
started=$(date +%s.%N)
if ! out=$(printf '%s\n' "$PASSWORD" | "$PORTCULLIS" --database-url "$URL" user add seed-template \
    --email seed-template@bench.invalid 2>&1); then
    echo "seed.sh: portcullis user add failed (is the database empty and reachable?): $out" >&2
    exit 1
fi
template_seconds=$(seconds_since "$started")

NOW=$(date +%s%3N)
# A BIGINT in both dialects: PostgreSQL would compute 29 days in 32 bits.
DAY="CAST(86400000 AS BIGINT)"
# Shared by both dialects: the columns of each seeded row, from its number n
# (1-based) and, for sessions, its creation time. Times are spread with
# multiplications by primes rather than random() so that both dialects agree.
USER_NAME="'seed' || n"
USER_EMAIL="'seed' || n || '@bench.invalid'"
USER_CREATED="$NOW - (n * 7919) % (365 * $DAY)"
session_created() { echo "$NOW - ($1 * 104729) % (29 * $DAY)"; } # row number column
REFRESHED="CASE WHEN created_at > $NOW - 7 * $DAY THEN created_at ELSE $NOW - (n * 7919) % (7 * $DAY) END"
RECENT="n <= $REVOKED"
LONG_AGO="n > $REVOKED AND n % 10 = 0 AND created_at < $NOW - 2 * $DAY"
REVOKED_AT="CASE WHEN $RECENT THEN $NOW - 300000 - (n * 997) % 300000 WHEN $LONG_AGO THEN created_at + 1000 END"
REASON="CASE WHEN $RECENT OR ($LONG_AGO) THEN 'logout' END"
LIVE="NOT ($RECENT) AND NOT ($LONG_AGO) AND $TOKENS > 1"
AGENT="'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'"
ADDR="'198.51.100.' || (1 + n % 254)"

# SQLite has no UUID function: an id is 16 random bytes in hex (column $1),
# kept in a temporary table so that every use of a row's id sees the same
# bytes, and spelled as the canonical version-4 UUID the application writes.
sqlite_uuid() {
    local h=$1
    echo "substr($h, 1, 8) || '-' || substr($h, 9, 4) || '-4' || substr($h, 14, 3) || '-' || \
substr('89ab', 1 + (instr('0123456789abcdef', substr($h, 17, 1)) - 1) % 4, 1) || \
substr($h, 18, 3) || '-' || substr($h, 21, 12)"
}

sqlite_sql() {
    cat <<SQL
.bail on
PRAGMA busy_timeout = 10000;
-- A throw-away database: no fsync, and a cache large enough (1 GiB) that the
-- random index inserts of one big transaction do not spill to disk.
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;
CREATE TEMP TABLE seed_users (n INTEGER PRIMARY KEY, h TEXT NOT NULL);
INSERT INTO seed_users
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $USERS)
    SELECT n, lower(hex(randomblob(16))) FROM s;
INSERT INTO users (id, username, username_key, email, email_key, password_hash, disabled, created_at, updated_at)
    SELECT $(sqlite_uuid h), $USER_NAME, $USER_NAME, $USER_EMAIL, $USER_EMAIL,
           (SELECT password_hash FROM users WHERE username_key = 'seed-template'), 0,
           $USER_CREATED, $USER_CREATED
    FROM seed_users;
CREATE TEMP TABLE seed_sessions (n INTEGER PRIMARY KEY, h TEXT NOT NULL, user_h TEXT NOT NULL, created_at INTEGER NOT NULL);
INSERT INTO seed_sessions
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $SESSIONS)
    SELECT s.n, lower(hex(randomblob(16))), u.h, $(session_created s.n)
    FROM s JOIN seed_users u ON u.n = 1 + (s.n - 1) % $USERS;
INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, generation, successor_seal,
                      revoked_at, revoked_reason, user_agent, client_addr)
    SELECT $(sqlite_uuid h), $(sqlite_uuid user_h), created_at, $REFRESHED, created_at + 30 * $DAY,
           $TOKENS - 1, CASE WHEN $LIVE THEN randomblob(32) END, $REVOKED_AT, $REASON, $AGENT, $ADDR
    FROM seed_sessions;
INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at)
    WITH RECURSIVE g(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM g WHERE g < $TOKENS - 1)
    SELECT randomblob(32), $(sqlite_uuid h), g, created_at + g FROM seed_sessions, g;
COMMIT;
ANALYZE;
SQL
}

postgres_sql() {
    cat <<SQL
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
    SELECT n, gen_random_uuid()::text AS id FROM generate_series(CAST(1 AS BIGINT), $USERS) AS n;
INSERT INTO users (id, username, username_key, email, email_key, password_hash, disabled, created_at, updated_at)
    SELECT id, $USER_NAME, $USER_NAME, $USER_EMAIL, $USER_EMAIL,
           (SELECT password_hash FROM users WHERE username_key = 'seed-template'), FALSE,
           $USER_CREATED, $USER_CREATED
    FROM seed_users;
CREATE TEMP TABLE seed_sessions ON COMMIT DROP AS
    SELECT s.n, gen_random_uuid()::text AS id, u.id AS user_id, $(session_created s.n) AS created_at
    FROM generate_series(CAST(1 AS BIGINT), $SESSIONS) AS s(n) JOIN seed_users u ON u.n = 1 + (s.n - 1) % $USERS;
INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, generation, successor_seal,
                      revoked_at, revoked_reason, user_agent, client_addr)
    SELECT id, user_id, created_at, $REFRESHED, created_at + 30 * $DAY, $TOKENS - 1,
           CASE WHEN $LIVE THEN sha256(convert_to(gen_random_uuid()::text, 'UTF8')) END,
           $REVOKED_AT, $REASON, $AGENT, $ADDR
    FROM seed_sessions;
INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at)
    SELECT sha256(convert_to(gen_random_uuid()::text, 'UTF8')), id, g, created_at + g
    FROM seed_sessions, generate_series(0, $TOKENS - 1) AS g;
COMMIT;
ANALYZE;
SQL
}

started=$(date +%s.%N)
case $URL in
sqlite://*)
    file=${URL#sqlite://}
    file=${file%%\?*}
    command -v sqlite3 >/dev/null || { echo "seed.sh: sqlite3 is required (apt-get install sqlite3)" >&2; exit 1; }
    sqlite_sql | sqlite3 "$file" >/dev/null
    ;;
postgres://* | postgresql://*)
    command -v psql >/dev/null || { echo "seed.sh: psql is required" >&2; exit 1; }
    postgres_sql | psql -q -X "$URL" >/dev/null
    ;;
*)
    echo "seed.sh: unknown database URL $URL" >&2
    exit 2
    ;;
esac
echo "users=$USERS sessions=$SESSIONS refresh_tokens=$((SESSIONS * TOKENS)) revoked_recently=$REVOKED" \
    "template_seconds=$template_seconds seed_seconds=$(seconds_since "$started")"
