#!/usr/bin/env bash
# The supply-chain check: `cargo deny check` (advisories, licences, bans,
# sources) over the workspace and the fuzz crate, by the rules in deny.toml.
#
# The RustSec advisory database lives on GitHub. When it can be fetched, the
# live database is used. When it cannot (CI here reaches crates.io but not
# GitHub), the snapshot in supply-chain/advisory-db.tar.gz is used instead and
# the run says so, with the snapshot's date; cargo-deny fails once the snapshot
# is older than deny.toml's `maximum-db-staleness`. supply-chain/README.md says
# how to refresh it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The version deny.toml is written for.
deny_version=0.20.2
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $deny_version" ]; then
    cargo install cargo-deny --locked --version "$deny_version"
fi

# cargo-deny reads every locked crate's manifest for its licence; fetch them
# all now, so that an offline check finds them.
cargo fetch --locked
cargo fetch --locked --manifest-path fuzz/Cargo.toml

snapshot=supply-chain/advisory-db.tar.gz
# Where cargo-deny 0.20 keeps the database of deny.toml's `db-urls` (the name
# hashes the URL). Should it move, cargo-deny finds no database and fails.
db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"

# Unpacks the snapshot as the git checkout cargo-deny expects, committed at
# the snapshot's own date so that cargo-deny judges its real age. A checkout
# at least as new (an earlier live fetch) is kept.
install_snapshot() {
    local commit date epoch
    # The id is in the archive's first header; gzip may be cut off after it.
    commit=$(set +o pipefail; gzip -dc "$snapshot" 2>/dev/null | git get-tar-commit-id)
    # `git archive` stamps every entry with the commit's time.
    date=$(TZ=UTC tar --full-time -tzvf "$snapshot" LICENSE.txt | awk '{print $4 "T" $5 "Z"}')
    epoch=$(date -d "$date" +%s)
    if [ -d "$db/.git" ] && [ "$(git -C "$db" log -1 --format=%ct 2>/dev/null || echo 0)" -ge "$epoch" ]; then
        # Installed by an earlier run, or a live fetch at least as new.
        snapshot_note="the local copy: $(git -C "$db" log -1 --format='%s, %cI')"
        return
    fi
    rm -rf "$db"
    mkdir -p "$db"
    tar -xzf "$snapshot" -C "$db"
    git -C "$db" init -q -b main
    git -C "$db" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$db" \
        -c user.name=portcullis -c user.email=portcullis@localhost \
        commit -q -m "RustSec advisory-db $commit (snapshot)"
    # A later live fetch updates this checkout in place.
    git -C "$db" remote add origin https://github.com/rustsec/advisory-db
    touch -d "$date" "$db/.git/HEAD"
    snapshot_note="the snapshot: RustSec advisory-db $commit (snapshot), $date"
}

offline=()
if timeout 120 cargo deny fetch db; then
    echo "advisories: checked against the live RustSec database"
else
    install_snapshot
    offline=(--offline)
    cat <<EOF

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! The RustSec advisory database could not be fetched from GitHub.
!!! Advisories are checked against $snapshot_note,
!!! $(( ($(date +%s) - $(git -C "$db" log -1 --format=%ct)) / 86400 )) days old: advisories published since are not seen.
!!! Refresh it as supply-chain/README.md says.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

EOF
fi

echo "==> cargo deny: the workspace"
cargo deny --locked "${offline[@]}" check --hide-inclusion-graph
echo "==> cargo deny: the fuzz crate"
cargo deny --locked "${offline[@]}" --manifest-path fuzz/Cargo.toml --config deny.toml \
    check --hide-inclusion-graph
