#!/usr/bin/env python3
"""The load part of bench/run.sh: gatehouse (SQLite, PostgreSQL) and the
peer, node oidc-provider (1 process, 2-process cluster), under the same wrk
script, interleaved per repetition; then gatehouse's code exchange and
refresh rotation; then gatehouse's memory. Prints tables; asserts nothing.

Every process it starts, it stops (process groups, killed in `finally`).
Environment: GATEHOUSE_BIN (the release binary), SIGN_ALL (raw signing
rate on all cores, tokens/s), BENCH_REPS (default 3), BENCH_SECONDS
(default 10), BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432),
BENCH_POSTGRES_SSLMODE (default disable: loopback),
BENCH_SKIP (comma list of: peer, postgres, code, memory, flood).
"""
import base64
import hashlib
import html
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

BIN = os.environ["GATEHOUSE_BIN"]
SIGN_ALL = float(os.environ.get("SIGN_ALL") or 0)
REPS = int(os.environ.get("BENCH_REPS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Loopback: no TLS by default (libpq's default, prefer, would negotiate it
# with a server that has it on); BENCH_POSTGRES_SSLMODE=require measures it.
PG_SSLMODE = os.environ.get("BENCH_POSTGRES_SSLMODE", "disable")
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="gatehouse-bench-")
PROCS = []  # every Popen started, stopped at the end
PG_DATABASES = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spawn(args, env, log):
    p = subprocess.Popen(args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                         start_new_session=True)
    PROCS.append(p)
    return p


def stop_all():
    for p in PROCS:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    for db in PG_DATABASES:
        subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"],
                       capture_output=True)
    shutil.rmtree(WORK, ignore_errors=True)


def tree(pid):
    """The pid and its descendants (a node cluster's workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def rss_mb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / tick


def wait_http(port, path="/healthz", seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


class Gatehouse:
    def __init__(self, name, url):
        self.name, self.url = name, url
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.env = dict(os.environ, GATEHOUSE_DATABASE_URL=url,
                        GATEHOUSE_KEYS_DIR=os.path.join(self.dir, "keys"),
                        GATEHOUSE_BIND=f"127.0.0.1:{self.port}", GATEHOUSE_LOG="warn")
        self.proc = spawn([BIN, "serve"], self.env, os.path.join(self.dir, "server.log"))
        wait_http(self.port)
        self.pid = self.proc.pid
        cc = self.cli("client", "create", "--name", "bench", "--grant-type",
                      "client_credentials", "--scope", "read write", "--json")
        self.basic = basic(cc["client_id"], cc["client_secret"])

    def cli(self, *args, stdin=None):
        out = subprocess.run([BIN, *args], env=self.env, input=stdin, capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout) if "--json" in args else out.stdout


class Peer:
    def __init__(self, name, workers, modules):
        self.name, self.port = name, free_port()
        env = dict(os.environ, PEER_MODULES=modules, BENCH_CLIENT_ID="bench",
                   BENCH_CLIENT_SECRET="bench-secret-0123456789", NODE_ENV="production")
        log = os.path.join(WORK, f"{name}.log")
        self.proc = spawn(["node", os.path.join(HERE, "peer.mjs"), str(self.port), str(workers)],
                          env, log)
        deadline = time.time() + 20
        while "ready" not in open(log).read():
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{name} did not start: {open(log).read()}")
            time.sleep(0.1)
        self.pid = self.proc.pid
        self.basic = basic("bench", "bench-secret-0123456789")


def basic(client_id, secret):
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def wrk(port, script, env, seconds, connections=64):
    """Runs wrk; returns (requests/s, p50 ms, p99 ms, non-2xx, errors, requests)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         os.path.join(HERE, script), f"http://127.0.0.1:{port}/token"],
        env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rate, ms("50"), ms("99"), int(non2xx.group(1)) if non2xx else 0, \
        errors.group(1) if errors else "", total


def load(target, seconds, script="token.lua", env=None):
    """One wrk run on client_credentials, with the server's CPU and peak RSS."""
    c0, t0, peak = cpu_seconds(target.pid), time.time(), 0.0
    p = subprocess.Popen(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s",
         os.path.join(HERE, script), f"http://127.0.0.1:{target.port}/token"],
        env=dict(os.environ, BENCH_BASIC=target.basic, **(env or {})), stdout=subprocess.PIPE,
        text=True)
    PROCS.append(p)
    while p.poll() is None:
        peak = max(peak, rss_mb(target.pid))
        time.sleep(0.25)
    out = p.stdout.read()
    cores = (cpu_seconds(target.pid) - c0) / (time.time() - t0)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return dict(rate=rate, p50=ms("50"), p99=ms("99"), cores=cores, peak=peak,
                bad=int(non2xx.group(1)) if non2xx else 0)


def table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for r in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                        for i, (x, w) in enumerate(zip(r, widths))))


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def pg_url():
    """A fresh database on the PostgreSQL server, or None when none answers."""
    probe = subprocess.run(["psql", f"{PG_BASE}/postgres", "-qtAc", "SELECT 1"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"(PostgreSQL at {PG_BASE} does not answer: its rows are left out)")
        return None
    name = f"gatehouse_bench_{os.getpid()}"
    subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True)
    PG_DATABASES.append(name)
    print(f"PostgreSQL: {PG_BASE} (sslmode={PG_SSLMODE})")
    return f"{PG_BASE}/{name}?sslmode={PG_SSLMODE}"


def install_peer():
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("(node or npm missing: the peer's rows are left out)")
        return None
    major = int(subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"],
                               capture_output=True, text=True).stdout)
    if major < 20:
        print(f"(node {major} is too old for oidc-provider 9: the peer's rows are left out)")
        return None
    prefix = os.path.join(WORK, "peer")
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", prefix,
                    "oidc-provider@9"], check=True, stdin=subprocess.DEVNULL)
    version = json.load(open(os.path.join(prefix, "node_modules/oidc-provider/package.json")))
    print(f"peer: node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"oidc-provider {version['version']} (in-memory adapter, JWT access tokens, RS256)")
    return os.path.join(prefix, "node_modules")


# ---------------------------------------------------------------- browser part


class Browser:
    """Just enough of a browser for /login, /authorize and /consent."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def go(self, method, path, form=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": self.cookie()} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return r.status, r.getheader("Location") or "", r.read().decode()

    def cookie(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def hidden(page, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else ""


def signed_in_authorize_path(g, client_id, redirect, challenge):
    """Signs `bench` in, consents once (remembered); returns the browser and
    the /authorize path that now answers a code at once."""
    b = Browser(g.port)
    path = "/authorize?" + urllib.parse.urlencode(dict(
        response_type="code", client_id=client_id, redirect_uri=redirect, scope="read",
        code_challenge=challenge, code_challenge_method="S256", state="s"))
    _, login, _ = b.go("GET", path)
    _, _, page = b.go("GET", login)
    b.go("POST", "/login", dict(csrf_token=hidden(page, "csrf_token"), next=hidden(page, "next"),
                                username="bench", password="bench-password-0123"))
    status, consent, _ = b.go("GET", path)
    if "/consent" in consent:
        _, _, page = b.go("GET", consent)
        b.go("POST", "/consent", dict(csrf_token=hidden(page, "csrf_token"),
                                      request=hidden(page, "request"), decision="allow"))
    status, location, _ = b.go("GET", path)
    if "code=" not in location:
        raise RuntimeError(f"/authorize did not answer a code: {status} {location}")
    return b, path


def code_flow(g, results):
    """authorization_code + PKCE exchanges at 16 and 64 connections (REPS
    times each), then refresh-token rotation, each code and refresh token
    used once."""
    g.cli("user", "create", "--username", "bench", "--password-stdin",
          stdin="bench-password-0123\n")
    redirect = "http://127.0.0.1:9/cb"
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .decode().rstrip("=")
    env = dict(BENCH_VERIFIER=verifier, BENCH_REDIRECT_ENC=urllib.parse.quote(redirect, safe=""))
    for label, grants in (("code", ["authorization_code"]),
                          ("refresh", ["authorization_code", "refresh_token"])):
        args = ["client", "create", "--name", f"bench-{label}", "--redirect-uri", redirect,
                "--scope", "read", "--json"]
        for gt in grants:
            args += ["--grant-type", gt]
        client = g.cli(*args)
        b, path = signed_in_authorize_path(g, client["client_id"], redirect, challenge)
        env_c = dict(env, BENCH_BASIC=basic(client["client_id"], client["client_secret"]),
                     BENCH_COOKIE=b.cookie(), BENCH_AUTHORIZE_PATH=path)
        if label == "code":
            for conns in (16, 64):
                reps = []
                for rep in range(REPS):
                    codes = os.path.join(g.dir, f"codes-{conns}-{rep}")
                    # Codes for longer than the exchange can spend them
                    # (minting is the cheaper half); running out would show
                    # as non-2xx.
                    wrk(g.port, "mint.lua", dict(env_c, BENCH_CODES=codes), 2 * SECONDS, 16)
                    reps.append(wrk(g.port, "exchange.lua", dict(env_c, BENCH_CODES=codes),
                                    SECONDS, conns))
                    print(f"{g.name} authorization_code at {conns}, rep {rep + 1}: "
                          f"{fmt(reps[-1][0])}/s, p99 {reps[-1][2]:.1f} ms")
                # The median repetition by rate, with all of them beside it.
                r = sorted(reps)[len(reps) // 2]
                results.append((g.name, f"authorization_code at {conns}", r, reps))
        else:
            codes = os.path.join(g.dir, "codes-refresh")
            tokens = os.path.join(g.dir, "refresh")
            for conns in (16, 64):
                # A fresh pool of live refresh tokens: codes minted for 1 s,
                # exchanged once each.
                wrk(g.port, "mint.lua", dict(env_c, BENCH_CODES=codes), 1, 16)
                wrk(g.port, "exchange.lua",
                    dict(env_c, BENCH_CODES=codes, BENCH_REFRESH_OUT=tokens), 3, 16)
                r = wrk(g.port, "refresh.lua", dict(env_c, BENCH_REFRESH=tokens), SECONDS, conns)
                results.append((g.name, f"refresh_token at {conns}", r, [r]))


def main():
    print(f"bench started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {REPS} repetitions of "
          f"{SECONDS} s, 64 connections, wrk -t2 on the same cores")
    targets = [Gatehouse("gatehouse-sqlite", f"sqlite://{WORK}/gatehouse.db")]
    url = None if "postgres" in SKIP else pg_url()
    if url:
        targets.append(Gatehouse("gatehouse-postgres", url))
    modules = None if "peer" in SKIP else install_peer()
    if modules:
        targets += [Peer("oidc-provider", 1, modules), Peer("oidc-provider-x2", 2, modules)]
    time.sleep(2)
    idle = {t.name: rss_mb(t.pid) for t in targets}
    for t in targets:
        load(t, 3)  # warm-up
    runs = {t.name: [] for t in targets}
    for rep in range(REPS):
        for t in targets:
            r = load(t, SECONDS)
            runs[t.name].append(r)
            print(f"rep {rep + 1} {t.name}: {fmt(r['rate'])} tokens/s, p99 {r['p99']:.1f} ms")

    def median(name, key):
        return statistics.median(r[key] for r in runs[name])

    print("\n## client_credentials, 64 connections (median of the repetitions)")
    peers = [t.name for t in targets if t.name.startswith("oidc-provider")]
    head = ["server", "tokens/s", "p50 ms", "p99 ms", "CPU cores", "idle RSS MB", "peak RSS MB",
            "non-2xx"]
    head += [f"x {p}" for p in peers]
    if SIGN_ALL:
        head.append("/ raw signing")
    rows = []
    for t in targets:
        rate = median(t.name, "rate")
        row = [t.name, fmt(rate), f"{median(t.name, 'p50'):.1f}", f"{median(t.name, 'p99'):.1f}",
               f"{median(t.name, 'cores'):.2f}", f"{idle[t.name]:.0f}",
               f"{max(r['peak'] for r in runs[t.name]):.0f}",
               str(sum(r['bad'] for r in runs[t.name]))]
        row += [f"{rate / median(p, 'rate'):.2f}" for p in peers]
        if SIGN_ALL:
            row.append(f"{rate / SIGN_ALL:.2f}")
        rows.append(row)
    table(head, rows)
    for t in targets:
        if isinstance(t, Peer):
            os.killpg(t.pid, signal.SIGTERM)

    gatehouses = [t for t in targets if isinstance(t, Gatehouse)]
    if "code" not in SKIP:
        results = []
        # SQLite with every commit flushed to disk (README, "Crashes and
        # power loss"): what `?synchronous=full` costs the writes.
        full = Gatehouse("gatehouse-sqlite-full", f"sqlite://{WORK}/full.db?synchronous=full")
        for g in [*gatehouses, full]:
            code_flow(g, results)
        os.killpg(full.pid, signal.SIGTERM)
        print("\n## authorization_code (+ PKCE) exchange and refresh rotation, each token used once")
        print(f"(authorization_code: the median of {REPS} repetitions by rate, each on codes "
              "minted just before it; refresh_token: one run)")
        table(["server", "grant, connections", "per s", "p50 ms", "p99 ms", "requests",
               "non-2xx", "socket errors", "repetitions: per s / p99 ms"],
              [[n, what, fmt(r[0]), f"{r[1]:.1f}", f"{r[2]:.1f}", fmt(r[5]), str(r[3]),
                r[4] or "-", ", ".join(f"{fmt(x[0])} / {x[2]:.1f}" for x in reps)]
               for n, what, r, reps in results])

    if "memory" not in SKIP:
        print("\n## gatehouse resident memory (MB): after start, after 60 s of load, 60 s later")
        rows = []
        for g in gatehouses:
            fresh = Gatehouse(g.name + "-fresh", g.url.replace("gatehouse.db", "fresh.db")
                              if g.url.startswith("sqlite") else g.url)
            time.sleep(2)
            started = rss_mb(fresh.pid)
            r = load(fresh, 60)
            after_load = rss_mb(fresh.pid)
            time.sleep(60)
            rows.append([g.name, f"{started:.1f}", f"{r['peak']:.1f}", f"{after_load:.1f}",
                         f"{rss_mb(fresh.pid):.1f}"])
            os.killpg(fresh.pid, signal.SIGTERM)
        table(["server", "after start", "peak in load", "after load", "60 s after load"], rows)

    if "flood" not in SKIP:
        g = gatehouses[0]
        # A different wrong secret on every request: the same one sent at
        # once by many connections shares one verification (hasher.rs).
        print(f"\n## {g.name}: 30 s of 64 connections, each request a different wrong "
              "client secret")
        client_id = base64.b64decode(g.basic).decode().split(":")[0]
        before = rss_mb(g.pid)
        r = load(g, 30, "wrong.lua", dict(BENCH_CLIENT_ID=client_id))
        time.sleep(2)  # the queued verifications drain
        after = rss_mb(g.pid)
        ok = load(g, 1)["bad"] == 0
        table(["RSS before MB", "peak MB (target < 100)", "2 s after MB", "wrong-secret answers/s",
               "good requests served after"],
              [[f"{before:.0f}", f"{r['peak']:.0f}", f"{after:.0f}", fmt(r["rate"]),
                "yes" if ok else "NO"]])


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
        sys.stdout.flush()
