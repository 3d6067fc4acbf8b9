#!/usr/bin/env bash
# A bounded soak of fixed-server on loopback: a mixed load (every route, clients that
# give up, upstream timeouts, bad input) for SOAK_SECS seconds (default 300), then checks
# the live task count is back to baseline and memory has not grown beyond noise, and
# prints the figures (requests, status codes, errors, tasks and RSS at start and end).
#   scripts/soak.sh            # 5 minutes
#   SOAK_SECS=60 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS="${SOAK_SECS:-300}"
cargo test --release -p load-client --test soak -- --nocapture
