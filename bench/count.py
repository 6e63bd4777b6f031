#!/usr/bin/env python3
"""Counts the statements PostgreSQL runs for one code exchange and one
refresh (bench/README.md, "Fewer round trips"): BENCH_COUNT (default 20)
exchanges, one at a time, then as many refreshes of the tokens they
issued, with pg_stat_statements (top-level statements are round trips;
nested ones are foreign-key checks). Times nothing, needs no wrk.

Usage: GATEHOUSE_BIN=target/debug/gatehouse \\
  BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5499 python3 bench/count.py
(a server with pg_stat_statements loaded, as for bench/profile.py).
"""
import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (reads GATEHOUSE_BIN, BENCH_POSTGRES_URL)
from bench import Gatehouse, basic, signed_in_authorize_path  # noqa: E402

N = int(os.environ.get("BENCH_COUNT", "20"))
REDIRECT = "http://127.0.0.1:9/cb"
VERIFIER = "v" * 43


def stats(db, reset=False):
    """pg_stat_statements for database `db`: [(calls, top level, query)]."""
    pg = f"{bench.PG_BASE}/postgres"
    if reset:
        subprocess.run(["psql", pg, "-qtAc", "SELECT pg_stat_statements_reset()"],
                       check=True, capture_output=True)
        return None
    out = subprocess.run(
        ["psql", pg, "-qtAF", "\t", "-c",
         "SELECT calls, toplevel, regexp_replace(query, '\\s+', ' ', 'g') FROM "
         "pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
         f"datname = '{db}') AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC"],
        capture_output=True, text=True, check=True).stdout
    return [(int(c), t == "t", q)
            for c, t, q in (line.split("\t", 2) for line in out.splitlines() if line)]


def main():
    url = bench.pg_url()
    g = Gatehouse("gatehouse-postgres", url)
    db = url.split("?")[0].rsplit("/", 1)[1]
    g.cli("user", "create", "--username", "bench", "--password-stdin",
          stdin="bench-password-0123\n")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()) \
        .decode().rstrip("=")
    client = g.cli("client", "create", "--name", "bench-code", "--redirect-uri", REDIRECT,
                   "--scope", "read", "--grant-type", "authorization_code",
                   "--grant-type", "refresh_token", "--json")
    b, path = signed_in_authorize_path(g, client["client_id"], REDIRECT, challenge)
    auth = "Basic " + basic(client["client_id"], client["client_secret"])

    def post(form):
        c = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        c.request("POST", "/token", body=urllib.parse.urlencode(form),
                  headers={"Authorization": auth,
                           "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 200, body
        return body

    codes = []
    for _ in range(N):
        _, location, _ = b.go("GET", path)
        codes.append(urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0])
    stats(db, reset=True)
    tokens = [post(dict(grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                        code_verifier=VERIFIER))["refresh_token"] for code in codes]
    exchange = stats(db)
    stats(db, reset=True)
    for token in tokens:
        post(dict(grant_type="refresh_token", refresh_token=token))
    refresh = stats(db)
    for label, rows in (("code exchange", exchange), ("refresh", refresh)):
        top = sum(c for c, t, _ in rows if t) / N
        nested = sum(c for c, t, _ in rows if not t) / N
        print(f"\n{label}: {top:.2f} top-level statements (round trips) per request, "
              f"{nested:.2f} nested (foreign-key checks)")
        for c, t, q in rows:
            print(f"  {c / N:5.2f} x {'top' if t else 'nested'} {q[:300]}")


if __name__ == "__main__":
    try:
        main()
    finally:
        bench.stop_all()
