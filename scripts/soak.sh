#!/usr/bin/env bash
# Soak fixed-server, started as its own process (so its memory is its own), under a mixed
# load at full speed: every route, clients that give up, resets mid-request, slow and idle
# connections (L7), bad input, 404s, garbage, oversized heads. Ends with one line:
#   soak: N requests, E errors, tasks B -> E, RSS X MB -> Y MB: ok      (or: FAILED (why))
# and exits non-zero on failure. RSS: the median of each half of the run.
#
#   scripts/soak.sh                              # 1,000,000 requests (about 1-2 minutes)
#   SOAK_REQUESTS=200000 scripts/soak.sh
#   SOAK_SECS=600 scripts/soak.sh                # 10 minutes, however many requests
#   SOAK_SERVER=leaky-server scripts/soak.sh     # FAILS: tasks pile up
set -euo pipefail
cd "$(dirname "$0")/.."
server="${SOAK_SERVER:-fixed-server}"
cargo build --release --quiet -p load-client -p "$server"
args=()
if [[ -n "${SOAK_REQUESTS:-}" ]]; then args+=(--requests "$SOAK_REQUESTS"); fi
if [[ -n "${SOAK_SECS:-}" ]]; then args+=(--duration "${SOAK_SECS}s"); fi
if [[ ${#args[@]} -eq 0 ]]; then args=(--requests 1000000); fi
server_args=()
if [[ "$server" == fixed-server ]]; then
  # FIX(L7)'s deadlines short enough that slow clients are closed while they hold on.
  server_args=(--header-timeout 1s --idle-timeout 2s)
fi
exec target/release/load-client soak "${args[@]}" -- "target/release/$server" "${server_args[@]}"
