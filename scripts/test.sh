#!/usr/bin/env bash
# The test command of the README: everything CI checks, on a fresh machine.
# It starts or installs what the tests need, then runs them. Tests that need
# a tool (Chromium, Node.js) are `#[ignore]`d with the reason, so a plain
# `cargo test` lists them as ignored; here they run with `--include-ignored`,
# and a missing tool fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "services"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

step "tools for the ignored tests"
# Debian's Chromium and chromedriver for the browser tests; Node.js and npm
# for the jose resource-server test, the cookie-parser test, the OpenID
# Provider of the sign-in-with-a-provider tests, packages/next and
# the Next.js example; Python with aiosmtpd for the e-mail tests.
packages=()
command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    || packages+=(chromium chromium-driver)
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
# OpenSSL's headers, which webauthn-rs (passkeys) builds against.
pkg-config --exists openssl 2>/dev/null || packages+=(libssl-dev pkg-config)
if [ "${#packages[@]}" -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}"
fi
(cd examples/node-jose && npm ci --no-audit --no-fund)
# The cookie parsers of Express, NestJS and Next.js, for the gateway attack tests.
(cd crates/portcullis/tests/node/cookie-parsers && npm ci --no-audit --no-fund)
# panva's oidc-provider, the real OpenID Provider of the sign-in-with-a-provider tests.
(cd crates/portcullis/tests/node/oidc-provider && npm ci --no-audit --no-fund)
# Python's aiosmtpd: the SMTP server the e-mail tests deliver to
# (crates/portcullis/tests/support/smtp_server.py), in a venv of its own.
if ! target/smtp-venv/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    command -v python3 >/dev/null && python3 -m venv --help >/dev/null 2>&1 || {
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv
    }
    rm -rf target/smtp-venv
    python3 -m venv target/smtp-venv
    target/smtp-venv/bin/pip install --quiet aiosmtpd==1.4.6
fi

step "Next.js package and example"
# The Next.js browser tests run the example's production build (`next build`,
# served by `next start`); without it they fail. Built every time, so that a
# change to the package or the example is never tested against an old build.
# Next 16 needs Node.js 20.9 or later.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)'; then
    echo "Node.js 20.9 or later is required for packages/next and examples/nextjs (found $(node --version))" >&2
    exit 1
fi
export NEXT_TELEMETRY_DISABLED=1
(cd packages/next && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build)
# `npm ci` installs a fresh copy of the package (.npmrc: install-links), which
# its prepack script builds from the sources as they are now.
(cd examples/nextjs && npm ci --no-audit --no-fund && npm run typecheck && npm run build)

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "supply chain"
./scripts/deny.sh

step "tests, the ignored ones included"
cargo test --workspace --locked -- --include-ignored

step "fuzzing (bounded)"
# Each cargo-fuzz target for FUZZ_SECONDS (default 60); a crash fails the run
# and leaves the input in fuzz/artifacts/.
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
