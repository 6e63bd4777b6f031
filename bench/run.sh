#!/usr/bin/env bash
# One command for the figures in bench/README.md. Prints the raw RS256
# signing rate (1 thread and all cores), then (bench/bench.py) gatehouse on
# SQLite and PostgreSQL side by side with node oidc-provider 9.x (1 process
# and a 2-process cluster, installed from npm into a temporary folder):
# client_credentials tokens/s, p50, p99, CPU, idle and peak RSS and the
# ratios, interleaved per repetition; gatehouse's authorization-code
# exchange and refresh rotation (p50/p99 at 16 and 64 connections; also on
# SQLite with ?synchronous=full, every commit flushed to disk); its
# memory after start, after 60 s of load and 60 s later; and a 30 s
# wrong-secret flood. Every process it starts, it stops. Asserts nothing.
#
# Usage: bash bench/run.sh   (installs wrk from Debian when missing)
#   BENCH_REPS=3 BENCH_SECONDS=10 BENCH_SKIP=peer,postgres,code,memory,flood
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432 (a database is
#   created there for the run and dropped after it), BENCH_POSTGRES_SSLMODE=disable
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin gatehouse --example bench_sign
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "gatehouse $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

"$TARGET/release/examples/bench_sign" | tee /tmp/gatehouse-sign.txt
SIGN_ALL=$(awk '/^sign_[0-9]+_threads_per_s/{print $2}' /tmp/gatehouse-sign.txt)

GATEHOUSE_BIN="$TARGET/release/gatehouse" SIGN_ALL="$SIGN_ALL" python3 -u bench/bench.py
