"""make bench: what authentication costs, row by row, in one run.

1. One httpd (bench/world.py, bench/httpd.conf.template) and oidc-provider
   (bench/oidc/peer.mjs, installed from npm into a temporary folder) on
   loopback.  wrk (bench/bench.lua) drives every row in turn, round after
   round (A B C ... A B C ...), so that the load of a shared machine falls
   on all rows alike; each row is reported as the median of its rounds and
   as the median ratio to the unauthenticated row of the same round (token
   endpoint rows also to oidc-provider's), with the CPU time the server
   spent per answer beside it.
2. The RSS of the httpd children before and after a million authenticated
   requests (wrk, bounded by count) over every row of ours.
3. User-space instructions per request, which do not depend on the load:
   `apache2 -X` under callgrind, as an unprivileged user, answering 150 and
   then 50 requests on one keep-alive connection;  (I150 - I50) / 100 leaves
   out start-up, shutdown and the connection.  Where a row misses a target,
   its per-request profile (bench/report.py) says which functions cost
   what.

The report (bench/report.py) goes to stdout and bench/results/latest.md.
How much is measured: bench/plan.py (BENCH_QUICK=1 for a short run);
BENCH_KEEP=1 keeps the work directory (stores, configurations, callgrind
files).
"""
import concurrent.futures
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import world as W
from plan import (ALL_CPUS, CG_AGAIN, CG_GAP, CG_REPEATS, CG_RUNS, KEEP,
                  LOADER_CPUS, ROUNDS, SECONDS, SERVER_CPUS, SOAK,
                  SOAK_SECONDS, STARTED)
from report import report

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.md"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def need(tool, package):
    if shutil.which(tool) is None:
        sys.exit(f"bench: {tool} is missing (apt-get install {package}, or "
                 "run support/setup-debian)")


# ---- oidc-provider, the peer of the token endpoint -----------------------

def node_version():
    out = subprocess.run(["node", "-p", "process.versions.node"],
                         capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.strip().split("."))


class Peer:
    """oidc-provider on node, installed now into a temporary folder.
    Version 9 needs crypto.hash (node >= 20.12); Debian 12's node 18 gets
    version 8, whose configuration is the same for what we use."""

    def __init__(self, client_id, client_secret):
        self.dir = Path(tempfile.mkdtemp(prefix="apiauth-bench-peer-"))
        node = node_version()
        self.node = ".".join(map(str, node))
        self.version = "9.13.3" if node >= (20, 12) else "8.8.1"
        self.client_id, self.client_secret = client_id, client_secret
        self.port = W.unused_port()
        self.proc = None

    def start(self):
        log(f"npm install oidc-provider@{self.version} into {self.dir}")
        subprocess.run(["npm", "install", "--prefix", str(self.dir),
                        "--no-audit", "--no-fund", "--loglevel=error",
                        f"oidc-provider@{self.version}"],
                       check=True, capture_output=True, timeout=300)
        shutil.copy(HERE / "oidc" / "peer.mjs", self.dir / "peer.mjs")
        self.proc = subprocess.Popen(
            ["node", str(self.dir / "peer.mjs"), str(self.port),
             self.client_id, self.client_secret, W.SCOPE],
            cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(os.environ, NODE_ENV="production"), text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError("oidc-provider did not start")
        return self

    def row(self):
        return W.Row("oidc-provider", "oidc-provider (node): "
                     "client_credentials, RS256", "/token", "token",
                     [("Authorization", W.basic(self.client_id,
                                                self.client_secret)),
                      ("Content-Type", "application/x-www-form-urlencoded")],
                     "POST", f"grant_type=client_credentials&scope={W.SCOPE}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- wrk -----------------------------------------------------------------

def lua(value):
    """A Python value as a Lua literal (strings, numbers, lists, dicts)."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        return '"' + "".join(c if c.isalnum() or c in " -_.,:/=+&~%{}[]()"
                             else f"\\{ord(c):03d}" for c in value) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}"
                               for k, v in value.items()) + "}"
    return "{" + ", ".join(lua(v) for v in value) + "}"


def pin(pids, cpus):
    """Every thread of these processes onto `cpus` (a child forked later
    inherits its parent's)."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass     # a thread that has just ended


def wrk(port, path, spec, workdir, threads=1, connections=8,
        seconds=SECONDS, cpus=None):
    spec_file = Path(workdir) / "spec.lua"
    spec_file.write_text("return " + lua(spec) + "\n")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "10s", "-s", str(HERE / "bench.lua"),
           f"http://127.0.0.1:{port}{path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, BENCH_SPEC=str(spec_file)),
                          timeout=seconds + 60,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus))
                          if cpus else None)
    line = next((x for x in proc.stdout.splitlines()
                 if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    got = {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}
    got["rps"] = got["requests"] / (got["duration_us"] / 1e6)
    got["errors"] = (got["status_errors"] + got["socket_errors"]
                     + got["timeouts"])
    return got


def cpu_seconds(pids):
    """User and system CPU time of processes so far (every thread)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])    # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def plain_spec(row):
    return {"mode": "plain", "method": row.method,
            "headers": dict(row.headers), "body": row.body}


class Load:
    """The wrk rounds, the RSS soak."""

    def __init__(self, world, server, peer):
        self.world, self.server, self.peer = world, server, peer
        # a row whose every request needs something new (a DPoP proof)
        # is measured by callgrind alone
        self.rows = [r for r in world.rows()
                     if not r.callgrind_only] + [peer.row()]
        self.samples = defaultdict(list)     # row name -> [wrk result]
        self.seq = 0                         # runs so far

    def port_of(self, row):
        if row.name == "oidc-provider":
            return self.peer.port
        return self.server.ports[row.vhost]

    def run_row(self, row):
        """One wrk run, and the CPU time the server under test spent per
        answer: unlike the rate, that hardly depends on what else the
        machine runs at the time."""
        spec, threads = plain_spec(row), 1
        if row.chain:
            # one chain per connection: a thread per connection
            spec = dict(spec, mode="refresh",
                        tokens=self.world.refresh_tokens(self.server, 8))
            threads = 8
        pids = ([self.peer.proc.pid] if row.name == "oidc-provider"
                else self.server.children())
        # plan.py: the resource rows on CPUs of their own, the rest free
        pinned = row.group == "resource"
        pin([self.server.proc.pid] + self.server.children(),
            SERVER_CPUS if pinned else ALL_CPUS)
        before = cpu_seconds(pids)
        got = wrk(self.port_of(row), row.path, spec, self.world.root,
                  threads=threads, connections=8,
                  cpus=LOADER_CPUS if pinned else None)
        got["cpu_us"] = ((cpu_seconds(pids) - before) * 1e6
                         / max(got["requests"], 1))
        return got

    def rounds(self, count):
        """Each round: the unauthenticated row, then two resource rows,
        the unauthenticated row again, two more, ..., and the token
        endpoint rows with their peer.  A resource row is compared with
        the unauthenticated runs just before and after it, a few seconds
        apart rather than a whole round, so that what the machine does
        meanwhile falls on both alike.  Each round starts one row further
        on, so that no row always follows the same neighbour (a node
        still collecting garbage, a journal still being written)."""
        resource = [r for r in self.rows
                    if r.group == "resource" and r.name != "open"]
        others = [r for r in self.rows if r.group != "resource"]
        opening = next(r for r in self.rows if r.name == "open")
        for i in range(count):
            log(f"round {i + 1}/{count}")
            a, b = i % len(resource), i % len(others)
            order = [opening]
            for j, row in enumerate(resource[a:] + resource[:a]):
                order.append(row)
                if j % 2 == 1:
                    order.append(opening)
            if order[-1] is not opening:
                order.append(opening)
            for row in order + others[b:] + others[:b]:
                got = self.run_row(row)
                got["seq"] = self.seq
                self.seq += 1
                self.samples[row.name].append(got)
                if got["errors"]:
                    log(f"  {row.name}: {got['errors']} errors")

    def _bracket(self, sample, key):
        """The mean of `key` over the unauthenticated runs just before and
        just after `sample`."""
        opens = self.samples["open"]
        before = max((o for o in opens if o["seq"] < sample["seq"]),
                     key=lambda o: o["seq"])
        after = min((o for o in opens if o["seq"] > sample["seq"]),
                    key=lambda o: o["seq"])
        return (before[key] + after[key]) / 2

    def _pairs(self, name, base, key):
        if base == "open":
            return [(x[key], self._bracket(x, key))
                    for x in self.samples[name]]
        return [(a[key], b[key])
                for a, b in zip(self.samples[name], self.samples[base])]

    def ratio(self, name, base):
        """The median of name's rate / base's: against the unauthenticated
        row, its runs either side (see rounds); else the same round's."""
        if name == base:
            return 1.0
        return statistics.median(a / b for a, b in
                                 self._pairs(name, base, "rps"))

    def cpu_ratio(self, name, base):
        """The same from CPU time: base's CPU per answer / name's."""
        if name == base:
            return 1.0
        return statistics.median(b / a for a, b in
                                 self._pairs(name, base, "cpu_us"))

    def summary(self, name):
        s = self.samples[name]
        return {"rps": statistics.median(x["rps"] for x in s),
                "p50_ms": statistics.median(x["p50_us"] for x in s) / 1000,
                "p99_ms": statistics.median(x["p99_us"] for x in s) / 1000,
                "cpu_us": statistics.median(x["cpu_us"] for x in s),
                "errors": sum(x["errors"] for x in s)}

    def soak(self, total):
        """`total` authenticated requests over every resource row of ours,
        in turn; the RSS of each child before and after.  wrk runs for a
        duration, so the count is reached in chunks: the first measures
        the rate, the next ones stop at the count (bench.lua) and last
        about as long as the rate says they need."""
        rows = [r for r in self.world.request_rows()
                if r.ours and not r.callgrind_only]
        requests = [W.format_request(r).decode() for r in rows]
        children = self.server.children()
        pin([self.server.proc.pid] + children, ALL_CPUS)
        before = {pid: W.rss_kib(pid) for pid in children}
        log(f"soak: {total:,} requests over {len(rows)} rows")
        done = errors = 0
        rate = seen_rate = None
        deadline = time.time() + SOAK_SECONDS
        while done < total and time.time() < deadline:
            left = total - done
            seconds = 3 if rate is None else min(
                60, max(1, math.ceil(left / rate) + 1))
            got = wrk(self.server.port, "/", {"mode": "soak", "limit": left,
                                             "requests": requests},
                      self.world.root, seconds=seconds)
            done += got["requests"]
            errors += got["errors"]
            seen_rate = got["rps"]
            if got["requests"] < left:
                rate = got["rps"]
        after = {pid: W.rss_kib(pid) for pid in self.server.children()}
        return {"requests": done, "errors": errors,
                "rps": rate or seen_rate or 0,
                "children": [(pid, before[pid], after.get(pid))
                             for pid in children],
                "respawned": sorted(set(after) - set(before))}


# ---- callgrind -----------------------------------------------------------

def callgrind_run(world, row, n, tag, refresh_token=None):
    """`apache2 -X` under callgrind answering `n` requests of `row` on
    one connection; returns (total Ir, the callgrind file)."""
    server = W.Server(world, f"cg-{row.name}-{n}-{tag}", private_store=True)
    out = server.dir / "callgrind.out"
    server.wrapper = ["valgrind", "--tool=callgrind",
                      f"--callgrind-out-file={out}"]
    server.start(single=True, timeout=120)
    try:
        conn = W.Connection(server.ports[row.vhost], tls=world.tls_of(row))
        token = refresh_token
        for _ in range(n):
            body = W.next_refresh_body(row, token) if row.chain else row.body
            headers = row.headers + (row.fresh(server.ports[row.vhost])
                                     if row.fresh else [])
            status, _, text = conn.exchange(W.format_request(
                row.method, row.path, headers, body))
            if status != row.status:
                raise RuntimeError(f"callgrind {row.name}: {status} {text}")
            if row.chain:
                token = json.loads(text)["refresh_token"]
            # a client that thinks before its next request: the server has
            # handed the idle connection back to the event MPM's listener
            # each time.  Sent at once, the next request would sometimes
            # be read straight on, sometimes not, and the counts would
            # vary by 1-2% from run to run.
            time.sleep(CG_GAP)
        conn.close()
        time.sleep(0.3)    # the server back to idle before it is stopped
    finally:
        server.stop(timeout=120)
    text = out.read_text(errors="replace")
    total = re.search(r"^totals:\s+(\d+)", text, re.M)
    # a shutdown cut short (no exit handlers) would not cancel out
    if total is None or "__run_exit_handlers" not in text:
        raise RuntimeError(f"callgrind {row.name} {n}: no clean exit")
    return int(total.group(1)), out


def callgrind_all(world, rows, refresh_tokens):
    """Every row, CG_RUNS requests, CG_REPEATS times, two at a time (the
    counts depend on the load only a little: the event MPM's idle wakeups
    run for as long as a run lasts).  A row whose repeats disagree by more
    than CG_AGAIN runs once more, alone, and its median is then that of
    three: one run thrown off (the TLS rows have been, by millions of
    instructions once in a while) does not decide its figure.
    `refresh_tokens`: one fresh grant per run of the refresh row, and
    spares for a run done again.  Returns {row: {"ir": per-request
    instructions (median over repeats), "spread": max relative difference
    between repeats, "runs": how many, "files": (I150 file, I50 file) of
    the first}}."""
    jobs = {}
    spare = list(refresh_tokens)

    def submit(pool, row, rep):
        for n in CG_RUNS:
            token = spare.pop() if row.chain else None
            jobs[(row.name, rep, n)] = pool.submit(
                callgrind_with_retry, world, row, n, rep, token, spare)

    def per_run(row, reps):
        big, small = CG_RUNS
        return [(jobs[(row.name, rep, big)].result()[0]
                 - jobs[(row.name, rep, small)].result()[0]) / (big - small)
                for rep in range(reps)]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for rep in range(CG_REPEATS):
            for row in rows:
                submit(pool, row, rep)
        for f in list(jobs.values()):
            f.result()
    again = [row for row in rows if CG_REPEATS > 1
             and spread_of(per_run(row, CG_REPEATS)) > CG_AGAIN]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for row in again:
            log(f"{row.name}: its runs disagree; once more")
            submit(pool, row, CG_REPEATS)
        for f in list(jobs.values()):
            f.result()
    result = {}
    big, small = CG_RUNS
    for row in rows:
        per = per_run(row, CG_REPEATS + (row in again))
        result[row.name] = {
            "ir": statistics.median(per),
            "spread": spread_of(per),
            "runs": len(per),
            "files": (jobs[(row.name, 0, big)].result()[1],
                      jobs[(row.name, 0, small)].result()[1])}
    return result


def spread_of(per):
    mid = statistics.median(per)
    return (max(per) - min(per)) / abs(mid) if mid else 0.0


def callgrind_with_retry(world, row, n, rep, token, spare_tokens):
    for attempt in range(3):
        try:
            return callgrind_run(world, row, n, f"{rep}-{attempt}", token)
        except RuntimeError as e:
            log(f"{row.name} {n}: {str(e)[-600:]!r}; again")
            if row.chain:
                token = spare_tokens.pop()
    raise RuntimeError(f"callgrind {row.name} {n}: three failures")


# ---- the run ---------------------------------------------------------------

def main():
    for tool, pkg in (("wrk", "wrk"), ("valgrind", "valgrind"),
                      ("node", "nodejs"), ("npm", "npm")):
        need(tool, pkg)
    if not W.MOD_OAUTH2_SO.exists():
        sys.exit("bench: mod_oauth2 is missing (apt-get install "
                 "libapache2-mod-oauth2, or run support/setup-debian)")
    world = W.World.create()
    server = peer = None
    try:
        peer = Peer(world.cc["client_id"], world.cc["client_secret"]).start()
        server = W.Server(world, "wrk").start()
        world.credentials(server)
        bad = check_rows(world, server)
        if bad:
            raise RuntimeError("rows that do not answer as expected: "
                               + "; ".join(bad))
        load = Load(world, server, peer)
        load.rounds(ROUNDS)
        soak = load.soak(SOAK)
        cg_tokens = world.refresh_tokens(server, 2 * CG_REPEATS + 5)
        server.stop()
        server = None
        peer.stop()
        log(f"callgrind: {len(world.rows())} rows x {CG_RUNS} requests x "
            f"{CG_REPEATS}")
        # the costliest rows (the slowest under wrk) first, so that the
        # two workers finish together
        by_cost = sorted(world.rows(),
                         key=lambda r: 0 if r.callgrind_only
                         else load.summary(r.name)["rps"])
        cg = callgrind_all(world, by_cost, cg_tokens)
        log("callgrind done; profiles")
        text, checks = report(load, cg, soak, peer)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(text)
        print(text)
        missed = [what for what, _, ok, _ in checks if not ok]
        log(f"done in {time.time() - STARTED:.0f} s; "
            f"{len(missed)} target(s) missed")
        return 0
    finally:
        if server:
            server.stop()
        if peer:
            peer.stop()
        if KEEP:
            log(f"kept {world.root}")
        else:
            world.remove()


def check_rows(world, server):
    """Every row once with its credential: the expected answer.  (The
    test of this configuration, tests/integration/test_bench_config.py,
    asks the same and more.)"""
    bad = []
    for row in world.rows():
        body = row.body
        if row.chain:
            body = W.next_refresh_body(row,
                                       world.refresh_tokens(server, 1)[0])
        port = server.ports[row.vhost]
        status, _, text = W.http(port, row.method, row.path,
                                 row.headers + (row.fresh(port) if row.fresh
                                                else []), body,
                                 tls=world.tls_of(row))
        if status != row.status:
            bad.append(f"{row.name}: {status} {text[:200]}")
    return bad


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
