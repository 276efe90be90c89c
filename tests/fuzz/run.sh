#!/bin/sh
# run.sh: runs one libFuzzer target for a bounded time (make fuzz, make check).
#
#   sh tests/fuzz/run.sh BINARY NAME SECONDS
#
# libFuzzer writes every new input to its first corpus directory, so it is
# given a scratch copy of tests/fuzz/corpus/NAME; the repository is written
# to only when the target fails: the input that did it is kept in
# tests/fuzz/crashes/NAME/ (reproduce with BINARY FILE) and the run fails.
set -eu
bin=$1 name=$2 seconds=$3
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/apiauth-fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/corpus" "$scratch/artifacts"
cp "$here/corpus/$name"/* "$scratch/corpus/"
seeds=$(ls "$scratch/corpus" | wc -l)
dict=
if [ -f "$here/$name.dict" ]; then
    dict="-dict=$here/$name.dict"
fi

rc=0
"$bin" $dict -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$scratch/artifacts/" "$scratch/corpus" \
    > "$scratch/log" 2>&1 || rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log")
cov=$(grep -E '^#[0-9]+' "$scratch/log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
found=$(ls "$scratch/artifacts" | grep -E '^(crash|leak|timeout|oom)-' || true)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    mkdir -p "$here/crashes/$name"
    for f in $found; do
        cp "$scratch/artifacts/$f" "$here/crashes/$name/"
    done
    tail -n 80 "$scratch/log"
    echo "fuzz_$name: FAILED (exit $rc); kept in tests/fuzz/crashes/$name/:" $found
    exit 1
fi
echo "fuzz_$name: ${runs:-?} runs in ${seconds}s, coverage ${cov:-?}," \
     "corpus $seeds -> $(ls "$scratch/corpus" | wc -l) inputs, no crash"
