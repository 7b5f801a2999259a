#!/usr/bin/env bash
# The load benchmark: builds the release binaries, then runs stadium-load,
# which starts stadium-server pinned to CPU 0 and stadium-bot pinned to
# CPU 1 and steps the number of clients over QUIC and WebSocket. Flags are
# passed on to stadium-load (see `stadium-load --help`); the table goes to
# stdout, the outcomes to target/load/load.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p stadium-server -p stadium-bot
exec "${CARGO_TARGET_DIR:-target}/release/stadium-load" "$@"
