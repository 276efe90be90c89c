"""The report of a benchmark run: the Markdown tables, the targets, and
for each row what it costs where (from the callgrind files, read by
callgrind.py).

Per request, a row's cost is the difference between its run of 150
requests and its run of 50, over 100.  Functions are costed three ways:
self (their own instructions), inclusive (with everything they call), and,
for the functions of our two modules, attributed: their own instructions
and those of the library code they call, but not those of our other
functions, so that what our code costs is split without counting anything
twice.
"""
import concurrent.futures
import datetime
import functools
import os
import platform
import subprocess
import time
from pathlib import Path

import callgrind
from plan import (CG_REPEATS, CG_RUNS, LOADER_CPUS, PIN, QUICK, ROUNDS,
                  SECONDS, SERVER_CPUS, STARTED, TARGET_CACHED, TARGET_PEER, TARGET_RSS_KIB,
                  TARGET_UNCACHED)

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def profile_of(path):
    return callgrind.Profile(path)


def per_request(cg, name, modules=()):
    """Instructions per request of every function from a row's two
    callgrind runs: (self, inclusive, attributed to ours (see
    callgrind.Profile.attributed), callers)."""
    big, small = CG_RUNS
    a, b = profile_of(cg[name]["files"][0]), profile_of(cg[name]["files"][1])

    def diff(x, y):
        return {f: (x.get(f, 0) - y.get(f, 0)) / (big - small)
                for f in set(x) | set(y)}
    return (diff(a.self_cost, b.self_cost), diff(a.inclusive(), b.inclusive()),
            diff(a.attributed(modules), b.attributed(modules)),
            {**b.callers(), **a.callers()})


def named(func, callers):
    """A function as the report names it; one of a stripped library with
    the function that calls it most."""
    name = callgrind.readable(func)
    if name.startswith("0x") or "+" in name:
        caller = callers.get(func)
        if caller:
            return f"{name} (from {callgrind.readable(caller)})"
    return name


def top(costs, count, minimum=50):
    return sorted(((v, f) for f, v in costs.items() if v >= minimum),
                  reverse=True)[:count]


def added_cost(cg, name, base="open", count=12):
    """All code: the functions whose own instructions per request grew
    most against the unauthenticated row."""
    mine, _, _, callers = per_request(cg, name)
    ref = per_request(cg, base)[0]
    grown = {f: mine.get(f, 0) - ref.get(f, 0) for f in set(mine) | set(ref)}
    return [(named(f, callers), v) for v, f in top(grown, count)]


def our_cost(cg, name, modules, count=12):
    """Our modules' functions per request: (attributed, inclusive)."""
    _, incl, mine, _ = per_request(cg, name, modules)
    incl = {f: v for f, v in incl.items() if f[0] in modules}
    return ([(f[1], v) for v, f in top(mine, count)],
            [(f[1], v) for v, f in top(incl, count)])


def prefetch_profiles(cg):
    """Reading the callgrind files takes a moment: two at a time."""
    files = [f for v in cg.values() for f in v["files"]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(profile_of, files))


def fmt_rate(x):
    return f"{x:,.0f}"


def fmt_k(ir):
    return f"{ir / 1000:,.1f}k"


def fmt_ir(cg_row):
    if CG_REPEATS < 2:
        return fmt_k(cg_row["ir"])
    runs = cg_row.get("runs", CG_REPEATS)
    more = f", {runs} runs" if runs > CG_REPEATS else ""
    return f"{fmt_k(cg_row['ir'])} ({cg_row['spread'] * 100:.1f}%{more})"


def versions(peer):
    def dpkg(pkg):
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                              capture_output=True, text=True).stdout or "?"
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    head = subprocess.run(["git", "-C", str(ROOT), "describe",
                           "--always", "--dirty"], capture_output=True,
                          text=True).stdout.strip() or "?"
    return (f"apiauth {head}; {os.cpu_count()} x {cpu}; Debian apache2 "
            f"{dpkg('apache2-bin')} (event MPM), mod_oauth2 "
            f"{dpkg('libapache2-mod-oauth2')}, wrk {dpkg('wrk')}, valgrind "
            f"{dpkg('valgrind')}, node {peer.node}; oidc-provider "
            f"{peer.version}")


def report(load, cg, soak, peer):
    """The whole report as Markdown, and the targets: [(what, measured,
    holds, row name or None)]."""
    rows = load.world.rows()
    mode = "BENCH_QUICK=1" if QUICK else "full"
    out = [f"# apiauth benchmark ({mode} run, "
           f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')})\n",
           f"{versions(peer)}.  {ROUNDS} interleaved "
           f"rounds of {SECONDS} s per row (wrk -t1 -c8; the refresh row "
           "-t8 -c8, one rotation chain per connection), loopback, plain "
           "HTTP, no access log; " + pinning() + ".  *req/s*: the median over rounds; *x no "
           "auth*: the median ratio to the unauthenticated row, each run to "
           "the mean of the unauthenticated runs just before and after it "
           "(every second run is one); *CPU us/req*: user and system time of the httpd children "
           "(of node for oidc-provider) per answer, median over rounds, and "
           "*x no auth (CPU)* its ratio, which depends much less on what "
           "else the machine runs; latency: medians of each round's wrk "
           "percentiles.  *instr/req*: user-space instructions, `apache2 "
           f"-X` under callgrind, (I150 - I50) / 100, {CG_REPEATS} run(s) "
           "of each"
           + (" (in brackets: how far apart they are)" if CG_REPEATS > 1
              else "") + ".\n"]
    out += rate_tables(load, cg, rows, peer)
    growth, lines = rss_table(soak)
    out += lines
    if CG_REPEATS > 1:
        worst = max(cg, key=lambda n: cg[n]["spread"])
        over = sorted(n for n in cg if cg[n]["spread"] >= 0.01)
        out.append(f"Callgrind repeatability: the {CG_REPEATS} runs of a "
                   f"row differ by at most {cg[worst]['spread'] * 100:.2f}% "
                   f"({worst}); {len(over)} row(s) at 1% or more"
                   f"{': ' + ', '.join(over) if over else ''}.\n")
    checks = targets(load, cg, rows, soak, growth)
    out += ["| target | measured | holds |", "|---|---:|---|"]
    out += [f"| {what} | {got} | {'yes' if ok else '**no**'} |"
            for what, got, ok, _ in checks]
    out.append("")
    prefetch_profiles(cg)
    modules = set(load.world.modules)
    out += ["## What bounds each row\n",
            bounds_text(load, cg, rows, peer, modules)]
    missed = []
    for _, _, ok, name in checks:
        if not ok and name and name not in missed:
            missed.append(name)
    out += miss_profiles(cg, rows, missed, modules)
    out.append(f"Took {time.time() - STARTED:.0f} s.  Reproduce: `make "
               "bench` (full, under 10 minutes) or `BENCH_QUICK=1 make "
               "bench` (under 2), as root on Debian 12 after "
               "`support/setup-debian`; `BENCH_KEEP=1` keeps the work "
               "directory with the callgrind files.")
    return "\n".join(out) + "\n", checks


def errors(n):
    return f" ({n} error{'' if n == 1 else 's'})" if n else ""


def rate_tables(load, cg, rows, peer):
    base_ir = cg["open"]["ir"]
    out = ["| row | req/s | x no auth | CPU us/req | x no auth (CPU) | "
           "p50 ms | p99 ms | instr/req | instr - no auth |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if row.group != "resource":
            continue
        if row.callgrind_only:
            ir = cg[row.name]["ir"]
            out.append(f"| {row.label} | n/a: {row.callgrind_only} | | | | "
                       f"| | {fmt_ir(cg[row.name])} | "
                       f"+{fmt_k(ir - base_ir)} |")
            continue
        s = load.summary(row.name)
        ir = cg[row.name]["ir"]
        err = errors(s["errors"])
        out.append(
            f"| {row.label}{err} | {fmt_rate(s['rps'])} | "
            f"{load.ratio(row.name, 'open'):.2f} | {s['cpu_us']:.1f} | "
            f"{load.cpu_ratio(row.name, 'open'):.2f} | {s['p50_ms']:.2f} | "
            f"{s['p99_ms']:.2f} | {fmt_ir(cg[row.name])} | "
            f"{'' if row.name == 'open' else '+' + fmt_k(ir - base_ir)} |")
    out += ["", "| token endpoint | req/s | x oidc-provider | CPU us/req | "
            "x oidc-provider (CPU) | p50 ms | p99 ms | instr/req | "
            "instr - no auth |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in [r for r in rows if r.group == "token"] + [peer.row()]:
        if row.callgrind_only:
            ir = cg[row.name]["ir"]
            out.append(f"| {row.label} | n/a: {row.callgrind_only} | | | | "
                       f"| | {fmt_ir(cg[row.name])} | "
                       f"+{fmt_k(ir - base_ir)} |")
            continue
        s = load.summary(row.name)
        err = errors(s["errors"])
        if row.name in cg:
            ir = cg[row.name]["ir"]
            irs = f"{fmt_ir(cg[row.name])} | +{fmt_k(ir - base_ir)}"
        else:
            irs = "n/a (node) | "
        out.append(f"| {row.label}{err} | {fmt_rate(s['rps'])} | "
                   f"{load.ratio(row.name, 'oidc-provider'):.2f} | "
                   f"{s['cpu_us']:.1f} | "
                   f"{load.cpu_ratio(row.name, 'oidc-provider'):.2f} | "
                   f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {irs} |")
    return out + [""]


def rss_table(soak):
    """The RSS lines, and the growth of each child still there."""
    out = [f"RSS of the httpd children before and after "
           f"{soak['requests']:,} authenticated requests (every row of ours "
           f"in turn, {fmt_rate(soak['rps'])} req/s, {soak['errors']} "
           "errors):\n",
           "| child | before KiB | after KiB | growth KiB |",
           "|---|---:|---:|---:|"]
    growth = []
    for pid, before, after in soak["children"]:
        if after is None:
            out.append(f"| {pid} | {before} | (gone) | |")
            continue
        growth.append(after - before)
        out.append(f"| {pid} | {before} | {after} | {after - before:+d} |")
    if soak["respawned"]:
        out.append(f"\nnew children during the soak: {soak['respawned']}")
    return growth, out + [""]


def targets(load, cg, rows, soak, growth):
    base_ir = cg["open"]["ir"]
    sha_added = cg["basic-sha"]["ir"] - base_ir
    checks = []
    for row in rows:
        if row.cached:
            r = load.ratio(row.name, "open")
            checks.append((f"{row.label}: >= {TARGET_CACHED} x no auth",
                           f"{r:.3f}", r >= TARGET_CACHED, row.name))
    r = load.ratio("apikey-nocache", "open")
    checks.append((f"apikey without cache: >= {TARGET_UNCACHED} x no auth",
                   f"{r:.2f}", r >= TARGET_UNCACHED, "apikey-nocache"))
    rs = load.ratio("cc-rs256", "oidc-provider")
    checks.append((f"client_credentials RS256: >= {TARGET_PEER} x "
                   "oidc-provider", f"{rs:.2f}", rs >= TARGET_PEER,
                   "cc-rs256"))
    for name, alg in (("cc-es256", "ES256"), ("cc-eddsa", "EdDSA")):
        r = load.ratio(name, "oidc-provider")
        checks.append((f"client_credentials {alg}: above RS256 "
                       f"({rs:.2f}) x oidc-provider", f"{r:.2f}",
                       r > rs and r >= TARGET_PEER, name))
    worst = max(growth) if growth else 0
    checks.append((f"RSS growth < {TARGET_RSS_KIB} KiB per child over "
                   f"{soak['requests']:,} requests", f"{worst:+d} KiB",
                   bool(growth) and worst < TARGET_RSS_KIB
                   and not soak["respawned"], None))
    for row in rows:
        if row.cached:
            added = cg[row.name]["ir"] - base_ir
            checks.append((f"{row.label}: fewer instructions than httpd "
                           f"Basic {{SHA}} (+{fmt_k(sha_added)})",
                           f"+{fmt_k(added)}", added < sha_added, row.name))
    # RFC 9449 at the resource: the proof, a signature checked on every
    # request, against what mod_oauth2 spends on a Bearer RS256 JWT; and
    # the same without OpenSSL's verification of the proof's signature
    # (EVP_DigestVerify, inclusive: the token comes from the cache, so
    # the proof's is the only signature these rows verify), which no code
    # of ours can make cheaper
    for name in ("dpop-oauth", "dpop-oauth-rs256"):
        if name not in cg or "mod-oauth2" not in cg:
            continue
        added = cg[name]["ir"] - base_ir
        half = (cg["mod-oauth2"]["ir"] - base_ir) / 2
        alg = "ES256" if name == "dpop-oauth" else "RS256"
        checks.append((f"DPoP-bound request, {alg} proof: under half what "
                       f"mod_oauth2 adds for a Bearer RS256 JWT "
                       f"(+{fmt_k(half)})", f"+{fmt_k(added)}", added < half,
                       name))
        incl = per_request(cg, name)[1]
        verify = sum(v for f, v in incl.items()
                     if f[1] == "EVP_DigestVerify")
        checks.append((f"the same, all but OpenSSL verifying the {alg} "
                       f"signature ({fmt_k(verify)})",
                       f"+{fmt_k(added - verify)}", added - verify < half,
                       name))
    # RFC 8705 at the resource: the certificate's thumbprint compared on
    # every request, against the same token without a binding, over TLS
    if "mtls-oauth" in cg and "bearer-tls" in cg:
        mtls, plain = cg["mtls-oauth"]["ir"], cg["bearer-tls"]["ir"]
        checks.append(("certificate-bound request: within 1.5 x the Bearer "
                       f"request over TLS ({fmt_k(plain)})", fmt_k(mtls),
                       mtls <= 1.5 * plain, "mtls-oauth"))
        plain = cg["bearer-oauth"]["ir"]
        checks.append(("certificate-bound request: within 1.5 x the Bearer "
                       f"request over plain HTTP ({fmt_k(plain)})",
                       fmt_k(mtls), mtls <= 1.5 * plain, "mtls-oauth"))
    for row in rows:
        ref = same_header(rows, row)
        if row.cached and ref:
            added = cg[row.name]["ir"] - cg[ref.name]["ir"]
            checks.append((f"{row.label}: the same, over {ref.label} "
                           f"(+{fmt_k(cg[ref.name]['ir'] - base_ir)}: "
                           "httpd reading the header)",
                           f"+{fmt_k(added)}", added < sha_added, row.name))
    return checks


def same_header(rows, row):
    """The unauthenticated row that sends `row`'s header, if there is one."""
    for ref in rows:
        if (row.header_of and ref.header_of == row.header_of
                and ref is not row and not ref.ours
                and ref.path == "/open/hello.txt"):
            return ref
    return None


def miss_profiles(cg, rows, missed, modules):
    if not missed:
        return []
    base_ir = cg["open"]["ir"]
    out = ["## Profiles of the rows that miss a target\n",
           "Instructions per request, from the callgrind runs "
           "((I150 - I50) / 100).  *Ours, attributed*: each function of "
           "mod_apiauth / mod_apiauth_oauth with the library code it calls "
           "(OpenSSL, APR, libc, SQLite), not its calls to our other "
           "functions: these add up to what our code costs.  *Ours, "
           "inclusive*: with everything below it.  *All code, added*: the "
           "functions, ours or not, whose own instructions grew most "
           "against the unauthenticated row (`lib+offset`: a function of a "
           "stripped library, named by its caller).\n"]
    for name in missed:
        label = next(r.label for r in rows if r.name == name)
        attributed, inclusive = our_cost(cg, name, modules)
        columns = (attributed, inclusive, added_cost(cg, name))
        out += [f"### {label}: {fmt_k(cg[name]['ir'])} instr/request, "
                f"+{fmt_k(cg[name]['ir'] - base_ir)} over no auth\n",
                "| ours, attributed | instr | ours, inclusive | instr | "
                "all code, added | instr |",
                "|---|---:|---|---:|---|---:|"]
        for i in range(max(len(c) for c in columns)):
            cells = []
            for c in columns:
                fn, v = c[i] if i < len(c) else ("", None)
                cells += [f"`{fn}`" if fn else "",
                          "" if v is None else f"{v:,.0f}"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return out


def cpu_list(cpus):
    return ",".join(str(c) for c in sorted(cpus))


def pinning():
    if not PIN:
        return "nothing pinned: httpd, wrk and node share every CPU"
    return (f"resource rows: httpd on CPU {cpu_list(SERVER_CPUS)}, wrk on "
            f"CPU {cpu_list(LOADER_CPUS)} (bench/plan.py says why); token "
            "endpoint rows: httpd, node and wrk free on every CPU")


def busy(load, name):
    """Cores the server under test kept busy during the row's runs."""
    s = load.summary(name)
    return s["cpu_us"] * s["rps"] / 1e6


def bounds_text(load, cg, rows, peer, modules):
    """One line per row: how busy the server was, how much of the work
    is authentication and what in it costs the most, and for a row with a
    known wait (Row.waits) whose tail latency shows it, that wait."""
    base = cg["open"]["ir"]
    lines = []
    for row in rows:
        ir = cg[row.name]["ir"]
        if row.callgrind_only:
            what = our_cost(cg, row.name, modules, count=4)[0]
            costs = ", ".join(f"`{f}` {v / 1000:,.1f}k" for f, v in what)
            lines.append(f"- {row.label}: (callgrind only: "
                         f"{row.callgrind_only}) {fmt_k(ir)} instructions, "
                         f"+{fmt_k(ir - base)} over no auth; in our code: "
                         f"{costs}.")
            continue
        cores = busy(load, row.name)
        if row.name == "open":
            lines.append(f"- {row.label}: httpd busy {cores:.2f} of the "
                         f"{len(SERVER_CPUS)} CPU(s) it runs on, "
                         f"{fmt_k(ir)} instructions a request in user "
                         "space.")
            continue
        share = (ir - base) / ir if ir else 0
        if row.header_of and not row.ours:   # a reference, no auth
            what = added_cost(cg, row.name, count=3)
            costs = ", ".join(f"`{f}` {v / 1000:,.1f}k" for f, v in what)
            lines.append(f"- {row.label}: httpd busy {cores:.2f} cores; "
                         f"reading the header alone adds {fmt_k(ir - base)}"
                         f" instructions ({share * 100:.0f}% of "
                         f"{fmt_k(ir)}), no module looking at it: {costs}.")
            continue
        if row.ours:
            what = our_cost(cg, row.name, modules, count=4)[0]
            where = "in our code"
        else:
            what = added_cost(cg, row.name, count=3)
            where = "most added"
        costs = ", ".join(f"`{f}` {v / 1000:,.1f}k" for f, v in what)
        waits = ""
        lat = load.summary(row.name)
        if row.waits and lat["p99_ms"] > 20 * lat["p50_ms"]:
            waits = (f" Its p99 ({lat['p99_ms']:.0f} ms against a p50 of "
                     f"{lat['p50_ms']:.1f} ms) is waiting: {row.waits}.")
        lines.append(f"- {row.label}: httpd busy {cores:.2f} cores; "
                     f"{share * 100:.0f}% of its {fmt_k(ir)} instructions "
                     f"are authentication; {where}: {costs}.{waits}")
    lines.append(f"- {peer.row().label}: node busy "
                 f"{busy(load, 'oidc-provider'):.2f} cores: one JavaScript "
                 "thread (Koa, oidc-provider, jose; the signature in node's "
                 "OpenSSL) and node's own threads (garbage collection, "
                 "I/O).")
    return "\n".join(lines) + "\n"
