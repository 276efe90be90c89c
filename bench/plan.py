"""How much a benchmark run measures, and the targets it checks.

BENCH_QUICK=1: two rounds of a second per row, 100k requests for the RSS,
callgrind once per row; a full run: twelve rounds of a second, a million
requests, callgrind twice (the two runs' spread is reported).  On a shared
machine one wrk run of a row swings by a quarter either way, over a
second as over two: more rounds of a second give steadier medians than
fewer of two in the same time.
"""
import os
import time

QUICK = os.environ.get("BENCH_QUICK") == "1"
KEEP = os.environ.get("BENCH_KEEP") == "1"

ROUNDS = 2 if QUICK else 12
SECONDS = 1
SOAK = 100_000 if QUICK else 1_000_000
SOAK_SECONDS = 60 if QUICK else 240     # a bound, not the plan
CG_REPEATS = 1 if QUICK else 2
CG_RUNS = (150, 50)
# repeats of a row differing by more than this: one run more
CG_AGAIN = 0.03
CG_GAP = 0.01      # seconds between a response and the next request

# The resource rows differ from each other by a few per cent, less than
# one second's rate swings when httpd and wrk share every CPU and the
# scheduler keeps moving them (here by a quarter either way, even between
# adjacent seconds).  So for them httpd gets the first half of the CPUs
# and wrk the rest: the server's own cost sets the rate, and it repeats
# within a few per cent.  The token endpoint rows compare two servers,
# each free to use the whole machine as it would in production (node's
# own threads, httpd's workers), and stay unpinned, as do the soak and
# callgrind.  BENCH_PIN=0 pins nothing.
_CPUS = sorted(os.sched_getaffinity(0))
PIN = os.environ.get("BENCH_PIN", "1") != "0" and len(_CPUS) > 1
ALL_CPUS = set(_CPUS)
SERVER_CPUS = set(_CPUS[:len(_CPUS) // 2]) if PIN else ALL_CPUS
LOADER_CPUS = set(_CPUS[len(_CPUS) // 2:]) if PIN else ALL_CPUS

STARTED = time.time()
TARGET_CACHED = 0.95
TARGET_UNCACHED = 0.6
TARGET_PEER = 1.5
TARGET_RSS_KIB = 1024
