#!/usr/bin/env bash
# The test command of the README: everything CI checks, on a fresh machine.
# It starts or installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "services"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

step "node example"
# The Node resource-server test needs the example's dependencies; without
# node it is skipped (and says so).
if command -v node >/dev/null && [ ! -f examples/node-jose/node_modules/jose/package.json ]; then
    (cd examples/node-jose && npm ci --no-audit --no-fund)
fi

step "Next.js package and example"
# The browser tests run the example's production build (`next build`, served
# by `next start`); without it they fail. Next 16 needs Node 20.9 or later.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' 2>/dev/null; then
    echo "Node.js 20.9 or later is required for packages/next and examples/nextjs" >&2
    exit 1
fi
(cd packages/next && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build)
# The example installs a copy of the package just built (.npmrc: install-links).
(cd examples/nextjs && npm ci --no-audit --no-fund && npm run typecheck && NEXT_TELEMETRY_DISABLED=1 npm run build)

step "browser for the end-to-end tests"
# Debian's Chromium and its chromedriver; the browser tests fail rather than
# skip when this variable is set, so CI can never pass without running them.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
export PORTCULLIS_REQUIRE_BROWSER=1

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "fuzzing (bounded)"
# Each cargo-fuzz target for FUZZ_SECONDS (default 60); a crash fails the run
# and leaves the input in fuzz/artifacts/.
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
