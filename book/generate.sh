#!/usr/bin/env bash
# Regenerates everything under book/src/generated/ from real runs of this workspace's
# binaries, on loopback: load-client runs, /_stack, /metrics, a failed leak check, the
# demo's chart, the Go comparison and the numbers report. Run from anywhere:
#
#   book/generate.sh            # all of it (about 5 minutes: the report dominates)
#   book/generate.sh --quick    # smaller report sizes
#
# Needs: the Rust toolchain and curl. Uses go (apt-get install golang-go), chromium
# (apt-get install chromium: the /_ui screenshot) and oha (cargo install oha --locked)
# when installed; without go or chromium, their outputs are kept as they are and a line
# says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=book/src/generated
mkdir -p "$out"
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"

cargo build --release -p leaky-server -p fixed-server -p load-client -p benches
cargo build -p leak-probe --example leak_report
bin=target/release

# Starts a server binary on a free loopback port; sets $pid and $addr.
start() {
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 | sed 's|http://||' || true)
    [ -n "$addr" ] && return 0
    sleep 0.05
  done
  echo "generate.sh: $* did not start" >&2; cat "$log" >&2; exit 1
}

echo "== the scenario table"
"$bin/load-client" scenarios > "$out/scenarios.md"

echo "== the demo"
"$bin/load-client" demo --plot "$out/demo.svg" 2>/dev/null > "$out/demo.txt"
# The shutdown rows (L8) of the demo's table, for the leaks chapter.
grep '^L8 ' "$out/demo.txt" | tail -n 2 > "$out/demo-shutdown.txt"

echo "== the blog's load test on leaky-server /sum, and /_stack, /metrics"
# --tokio-dump: allow /_stack?trace=tokio (the server is quiet when it is asked for).
start "$bin/leaky-server" --addr 127.0.0.1:0 --tokio-dump
# The blog's route (L1), then ten requests to every other route of the scenario table, as
# the demo loads it (giving up where it says).
sum_route=$("$bin/load-client" scenarios --format tsv | awk -F'\t' '$1 == "L1" { print $3 }')
"$bin/load-client" --rounds 2 "http://$addr$sum_route" > "$out/load-sum-leaky.txt"
# (L7 has no route; L8's tasks end by themselves: it leaks only at shutdown.)
"$bin/load-client" scenarios --format tsv | tail -n +2 |
  while IFS=$'\t' read -r tag route path give_up _title; do
    if [ "$tag" = L1 ] || [ "$tag" = L8 ] || [ "$route" = - ]; then continue; fi
    abandon=()
    [ "$give_up" != - ] && abandon=(--abandon-after "${give_up}ms")
    "$bin/load-client" -n 10 -c 10 "${abandon[@]}" "http://$addr$path" > /dev/null
  done
sleep 0.5
curl -s "http://$addr/_stack" > "$out/stack-leaky.txt"
curl -s "http://$addr/_stack?trace=tokio" > "$out/stack-leaky-tokio.txt"
curl -s "http://$addr/metrics" \
  | grep -E '^# (HELP|TYPE) (tokio|http_requests_total)|^tokio_|^http_requests_total\{route="/(sum|_stack)"|^# (HELP|TYPE) http_request_duration|^http_request_duration_seconds_(bucket|sum|count)\{route="/sum"' \
  > "$out/metrics.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "== the live tools: /_leaks, /_ui, the pprof export, a flame graph, labels and ancestry"
start "$bin/leaky-server" --addr 127.0.0.1:0
# Two rounds of 50 requests on each route that leaks per request (L1–L5), as a workshop
# would; load-client's verdicts name the sites.
"$bin/load-client" scenarios --format tsv | tail -n +2 |
  while IFS=$'\t' read -r tag route path give_up _title; do
    case "$tag" in L1|L2|L3|L4|L5) ;; *) continue ;; esac
    # After the last route, a flame graph of all the live tasks.
    flame=()
    [ "$tag" = L5 ] && flame=(--flamegraph "$out/flame.svg")
    "$bin/load-client" --rounds 2 "${flame[@]}" "http://$addr$path" | grep -- '->' | tail -n 1 |
      sed "s|^ leaked:|$tag $route leaked|"
  done > "$out/live-verdicts.txt"
curl -s "http://$addr/_leaks?format=text" > "$out/leaks.txt"
curl -s "http://$addr/_stack?debug=2" | sed -n '/^every task/,$p' | awk 'NR <= 12' > "$out/stack-ancestry.txt"
if command -v go >/dev/null 2>&1; then
  curl -s -o "$out/tasks.pb.gz" "http://$addr/_stack?format=pprof"
  PPROF_TMPDIR=$(mktemp -d) go tool pprof -top "$out/tasks.pb.gz" 2>/dev/null |
    grep -v '^Time:' > "$out/pprof-top.txt"
  rm -f "$out/tasks.pb.gz"
else
  echo "generate.sh: go is not installed; keeping the existing $out/pprof-top.txt" >&2
fi
if command -v chromium >/dev/null 2>&1; then
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1300 \
    --virtual-time-budget=3000 --screenshot="$out/ui.png" "http://$addr/_ui" 2>/dev/null
else
  echo "generate.sh: chromium is not installed; keeping the existing $out/ui.png" >&2
fi
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "== slow clients (L7) against both servers"
start "$bin/leaky-server" --addr 127.0.0.1:0
"$bin/load-client" slow --clients 200 --hold 3s "http://$addr/" > "$out/slow-leaky.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true
start "$bin/fixed-server" --addr 127.0.0.1:0 --header-timeout 1s --idle-timeout 1s
"$bin/load-client" slow --clients 200 --hold 3s "http://$addr/" > "$out/slow-fixed.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "== a failed leak check"
cargo run -q -p leak-probe --example leak_report > "$out/leak-check-failure.txt"

echo "== the blog's Go server"
if command -v go >/dev/null 2>&1; then
  gobuild=$(mktemp -d)
  cp leaky-server/go/main.go "$gobuild/"
  (cd "$gobuild" && GO111MODULE=off GOCACHE="$gobuild/cache" go build -o leaky-go main.go)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$gobuild/leaky-go" -addr "127.0.0.1:$port" &
  gopid=$!
  sleep 0.5
  "$bin/load-client" --rounds 2 --stack "http://127.0.0.1:$port/sum" > "$out/load-go.txt"
  # Go's own dump (pprof's goroutine profile, debug=1: grouped by identical stack).
  # Every goroutine is listed (debug=2); two of the leaked ones show the shape.
  curl -s "http://127.0.0.1:$port/_stack" |
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /\[chan send\]/ { n++; if (n <= 2) print }
         END { printf "(%d goroutines in [chan send] in all; two are shown)\n", n }' \
    > "$out/stack-go.txt"
  kill "$gopid"; wait "$gopid" 2>/dev/null || true
else
  echo "generate.sh: go is not installed; keeping the existing $out/load-go.txt and stack-go.txt" >&2
fi

echo "== heap allocations per request, stage by stage (the layers bench, once)"
cargo test -q --release -p benches --bench layers 2>/dev/null | grep 'heap allocations per request' \
  > "$out/allocations.txt"

echo "== the soak: a million requests of every kind against fixed-server (about 1.5 minutes)"
soak_requests=1000000
if [[ -n "$quick" ]]; then soak_requests=100000; fi
"$bin/load-client" soak --requests "$soak_requests" -- "$bin/fixed-server" \
  --header-timeout 1s --idle-timeout 2s > "$out/soak.txt"
tail -n 1 "$out/soak.txt" | grep -q ': ok$' || {
  echo "generate.sh: the soak failed: $(tail -n 1 "$out/soak.txt")" >&2
  exit 1
}

echo "== the numbers report"
"$bin/report" $quick --out "$out/numbers.md"
# Its section on naming the waiting line, for the live-tools chapter.
awk '/^### Naming the line/ { on = 1 } /^### Targets/ { on = 0 } on' "$out/numbers.md" \
  > "$out/marks.md"

echo "book/generate.sh: regenerated $out"
