#!/usr/bin/env bash
# Compares two gatehouse binaries on client_credentials tokens/s, in one
# run, interleaved: A, B, A, B, … (each 10 s at 64 connections, wrk on the
# same cores), so the machine's noise falls on both alike. Prints each
# rate and the median ratio B / A. Every process it starts, it stops.
#
# Usage: bash bench/ab.sh OLD_BINARY NEW_BINARY [REPETITIONS (default 3)]
# e.g. build an older commit in a worktree with its own CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 REPS=${3:-3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# start NAME BINARY: a server on its own database and keys; prints its port.
start() {
  local dir=$WORK/$1 port
  mkdir -p "$dir"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  GATEHOUSE_DATABASE_URL="sqlite://$dir/gatehouse.db" GATEHOUSE_KEYS_DIR="$dir/keys" \
    GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_LOG=warn "$2" serve >"$dir/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  local json id secret
  json=$(GATEHOUSE_DATABASE_URL="sqlite://$dir/gatehouse.db" GATEHOUSE_KEYS_DIR="$dir/keys" \
    "$2" client create --name bench --grant-type client_credentials --scope "read write" --json)
  id=$(echo "$json" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_id"])')
  secret=$(echo "$json" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_secret"])')
  printf '%s:%s' "$id" "$secret" | base64 -w0 >"$dir/basic"
  echo "$port" >"$dir/port"
}

# load NAME SECONDS: tokens/s of one wrk run against NAME.
load() {
  local dir=$WORK/$1
  BENCH_BASIC=$(cat "$dir/basic") wrk -t2 -c64 -d"$2"s -s bench/token.lua \
    "http://127.0.0.1:$(cat "$dir/port")/token" | awk '/Requests\/sec/{print $2}'
}

start a "$A"; start b "$B"
load a 3 >/dev/null; load b 3 >/dev/null   # warm-up
RATIOS=()
for i in $(seq "$REPS"); do
  RA=$(load a 10); RB=$(load b 10)
  R=$(python3 -c "print(round($RB/$RA, 3))")
  RATIOS+=("$R")
  echo "rep $i: A $RA tokens/s, B $RB tokens/s, B/A $R"
done
echo "median B/A: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
