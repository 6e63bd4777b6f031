#!/usr/bin/env bash
# Prints: raw RS256 signing rate (1 thread and all cores), client_credentials
# tokens/s at 64 connections, their ratio, and the server's resident memory
# during and after 30 s of 64 concurrent wrong-secret requests.
# Usage: bash bench/run.sh   (installs wrk from Debian when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin gatehouse --example bench_sign
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$TARGET/release/gatehouse
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

"$TARGET/release/examples/bench_sign" | tee /tmp/gatehouse-sign.txt
SIGN_ALL=$(awk '/^sign_[0-9]+_threads_per_s/{print $2}' /tmp/gatehouse-sign.txt)

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export GATEHOUSE_DATABASE_URL="sqlite://$WORK/gatehouse.db" GATEHOUSE_KEYS_DIR="$WORK/keys" GATEHOUSE_BIND="127.0.0.1:$PORT" GATEHOUSE_LOG=warn
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
JSON=$("$BIN" client create --name bench --grant-type client_credentials --scope "read write" --json)
ID=$(echo "$JSON" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_id"])')
SECRET=$(echo "$JSON" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_secret"])')
curl -sf -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/token" >/dev/null

export BENCH_BASIC=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)
wrk -t2 -c64 -d3s -s bench/token.lua "http://127.0.0.1:$PORT/token" >/dev/null   # warm-up
wrk -t2 -c64 -d15s -s bench/token.lua "http://127.0.0.1:$PORT/token" >"$WORK/wrk.txt" &
WRK=$!
sleep 2; CPU0=$(head -1 /proc/stat); sleep 10; CPU1=$(head -1 /proc/stat)
wait $WRK
cat "$WORK/wrk.txt"
python3 -c "a=list(map(int,'$CPU0'.split()[1:]));b=list(map(int,'$CPU1'.split()[1:]));d=[y-x for x,y in zip(a,b)];print('machine_cpu_idle_during_load %.0f%%' % (100*d[3]/sum(d)))"
TPS=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.txt")
NON2XX=$(awk '/Non-2xx/{print $NF}' "$WORK/wrk.txt"); NON2XX=${NON2XX:-0}
echo "client_credentials_tokens_per_s $TPS (non-2xx: $NON2XX)"
python3 -c "print('ratio_tokens_to_raw_signing_all_cores %.2f (target >= 0.75)' % ($TPS / $SIGN_ALL))"

rss() { awk '/VmRSS/{print int($2/1024)}' /proc/$SERVER/status; }
echo "rss_before_wrong_secret_flood_mb $(rss)"
export BENCH_BASIC=$(printf '%s:%s' "$ID" "wrong-secret" | base64 -w0)
wrk -t2 -c64 -d30s -s bench/token.lua "http://127.0.0.1:$PORT/token" >"$WORK/wrong.txt" &
WRK=$!
PEAK=0
while kill -0 $WRK 2>/dev/null; do R=$(rss); [ "$R" -gt "$PEAK" ] && PEAK=$R; sleep 1; done
echo "wrong_secret_requests_per_s $(awk '/Requests\/sec/{print $2}' "$WORK/wrong.txt")"
echo "rss_peak_during_wrong_secret_flood_mb $PEAK (target < 100)"
echo "rss_after_wrong_secret_flood_mb $(rss)"
export BENCH_BASIC=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)
curl -sf -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/token" >/dev/null && echo "token requests still served after the flood: yes"
