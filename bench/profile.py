#!/usr/bin/env python3
"""Where a token request's time goes (bench/README.md, "Where the
PostgreSQL time goes"). For each server (SQLite, and PostgreSQL at
BENCH_POSTGRES_URL, which must have pg_stat_statements loaded), runs the
authorization-code exchange, refresh rotation and client_credentials at
16 and 64 connections and prints, per request:

- the statements PostgreSQL ran (pg_stat_statements: calls per request and
  mean execution time of each statement, BEGIN and COMMIT included);
- with a binary built with bench/timings.patch (GATEHOUSE_TIMINGS is set
  for the server), the time a request spent queued for a database thread,
  checking a connection out of the pool, running its database job, queued
  for a signing thread and signing, and in the /token handler overall;
- with BENCH_PERF=1, `perf record` of the server during each exchange run
  (the reports go to the printed folder).

Usage: GATEHOUSE_BIN=target/release/gatehouse \
  BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5499 python3 bench/profile.py
BENCH_SECONDS (default 10), BENCH_GRANTS (default code,refresh,cc; also password: the password grant at 16 connections),
BENCH_CONNECTIONS (default 16,64), BENCH_SKIP=sqlite. Asserts nothing.
"""
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("GATEHOUSE_TIMINGS", "1")
import bench  # noqa: E402  (reads GATEHOUSE_BIN, BENCH_POSTGRES_URL, BENCH_SECONDS)
from bench import Gatehouse, basic, wrk, signed_in_authorize_path, WORK, fmt  # noqa: E402

GRANTS = os.environ.get("BENCH_GRANTS", "code,refresh,cc").split(",")
CONNS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16,64").split(",")]
PERF = os.environ.get("BENCH_PERF") == "1"
SECONDS = bench.SECONDS


def timings(g):
    """The last TIMINGS line of the server's log: {stage: (count, µs)}."""
    lines = [l for l in open(os.path.join(g.dir, "server.log")) if l.startswith("TIMINGS")]
    if not lines:
        return {}
    out = {}
    for item in lines[-1].split()[1:]:
        k, v = item.split("=")
        n, us = v.split("/")
        out[k] = (int(n), int(us))
    return out


def pg_stats(url, reset=False):
    # pg_stat_statements is created in the server's `postgres` database;
    # its view shows every database's statements.
    name = url.split("?")[0].rsplit("/", 1)[1]
    db = f"{bench.PG_BASE}/postgres"
    if reset:
        subprocess.run(["psql", db, "-qtAc", "SELECT pg_stat_statements_reset()"],
                       capture_output=True, check=True)
        return None
    out = subprocess.run(
        ["psql", db, "-qtAF", "\t", "-c",
         "SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') FROM "
         f"pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
         f"datname = '{name}') AND query NOT LIKE '%pg_stat_statements%' "
         "ORDER BY calls DESC"],
        capture_output=True, text=True, check=True).stdout
    return [(int(c), float(t), q) for c, t, q in (l.split("\t", 2) for l in out.splitlines() if l)]


def measured(g, label, script, env, conns):
    time.sleep(1.2)  # the printer's next line, after the minting before
    before = timings(g)
    if g.url.startswith("postgres"):
        pg_stats(g.url, reset=True)
    perf = None
    if PERF and label.startswith("authorization_code"):
        data = os.path.join(WORK, f"perf-{g.name}-{conns}.data")
        perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(g.pid), "-o",
                                 data, "--", "sleep", str(SECONDS)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = wrk(g.port, script, env, SECONDS, conns)
    if perf:
        perf.wait()
    time.sleep(1.2)  # the printer's next line
    after = timings(g)
    n = r[5]
    print(f"\n### {g.name}: {label} at {conns} connections: {fmt(r[0])}/s, p50 {r[1]:.1f} ms, "
          f"p99 {r[2]:.1f} ms, non-2xx {r[3]}")
    if after:
        reqs = after["token_total"][0] - before.get("token_total", (0, 0))[0]
        for k in after:
            c = after[k][0] - before.get(k, (0, 0))[0]
            us = after[k][1] - before.get(k, (0, 0))[1]
            if c:
                print(f"  {k:16} {c / max(reqs, 1):5.2f} per request, {us / c:8.1f} µs each, "
                      f"{us / max(reqs, 1):8.1f} µs per request")
    if g.url.startswith("postgres"):
        stats = pg_stats(g.url)
        total = sum(c for c, _, _ in stats)
        print(f"  PostgreSQL: {total / max(n, 1):.2f} statements per request")
        for c, t, q in stats:
            if c >= n / 20:
                print(f"  {c / n:5.2f} x {1000 * t / c:7.1f} µs  {q[:150]}")
    if perf:
        report = os.path.join(WORK, f"perf-{g.name}-{conns}.txt")
        with open(report, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,dso",
                            "--stdio"], stdout=f, stderr=subprocess.DEVNULL)
        print(f"  perf report: {report}")
        with open(report) as f:
            for line in f:
                if re.match(r"^\s+\d+\.\d+%", line):
                    pct = float(line.split("%")[0])
                    if pct >= 2:
                        print("   ", line.rstrip())


def main():
    targets = [] if "sqlite" in bench.SKIP else \
        [Gatehouse("gatehouse-sqlite", f"sqlite://{WORK}/gatehouse.db")]
    url = bench.pg_url()
    if url:
        targets.append(Gatehouse("gatehouse-postgres", url))
    for g in targets:
        g.cli("user", "create", "--username", "bench", "--password-stdin",
              stdin="bench-password-0123\n")
        redirect = "http://127.0.0.1:9/cb"
        verifier = "v" * 43
        import base64
        import hashlib
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .decode().rstrip("=")
        env = dict(BENCH_VERIFIER=verifier,
                   BENCH_REDIRECT_ENC=urllib.parse.quote(redirect, safe=""))
        client = g.cli("client", "create", "--name", "bench-code", "--redirect-uri", redirect,
                       "--scope", "read", "--grant-type", "authorization_code",
                       "--grant-type", "refresh_token", "--json")
        b, path = signed_in_authorize_path(g, client["client_id"], redirect, challenge)
        env = dict(env, BENCH_BASIC=basic(client["client_id"], client["client_secret"]),
                   BENCH_COOKIE=b.cookie(), BENCH_AUTHORIZE_PATH=path)
        wrk(g.port, "token.lua", dict(BENCH_BASIC=g.basic), 3)  # warm-up
        if "password" in GRANTS:
            pw = g.cli("client", "create", "--name", "bench-password", "--scope", "read",
                       "--grant-type", "password", "--json")
            measured(g, "password", "password.lua",
                     dict(BENCH_BASIC=basic(pw["client_id"], pw["client_secret"]),
                          BENCH_USERNAME="bench", BENCH_PASSWORD="bench-password-0123"), 16)
        for conns in CONNS:
            if "cc" in GRANTS:
                measured(g, "client_credentials", "token.lua", dict(BENCH_BASIC=g.basic), conns)
            if "code" in GRANTS:
                codes = os.path.join(g.dir, f"codes-{conns}")
                wrk(g.port, "mint.lua", dict(env, BENCH_CODES=codes), 2 * SECONDS, 16)
                measured(g, "authorization_code", "exchange.lua", dict(env, BENCH_CODES=codes),
                         conns)
            if "refresh" in GRANTS:
                codes = os.path.join(g.dir, f"rcodes-{conns}")
                tokens = os.path.join(g.dir, f"refresh-{conns}")
                wrk(g.port, "mint.lua", dict(env, BENCH_CODES=codes), 1, 16)
                wrk(g.port, "exchange.lua", dict(env, BENCH_CODES=codes, BENCH_REFRESH_OUT=tokens),
                    3, 16)
                measured(g, "refresh_token", "refresh.lua", dict(env, BENCH_REFRESH=tokens), conns)


if __name__ == "__main__":
    try:
        main()
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"(kept {WORK})")
            bench.PROCS and [p.kill() for p in bench.PROCS]
        else:
            bench.stop_all()
