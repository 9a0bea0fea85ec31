#!/usr/bin/env bash
# Runs every fuzz target (`cargo fuzz list`), or the TARGETs given, for
# SECONDS each (default 30), one at a time, and prints per target the
# executions, the coverage and whether it found anything. Exits non-zero if
# any target found something (a crash, a failed oracle, a timeout or a
# memory blow-up) or did not build.
#
#   bash scripts/fuzz.sh [SECONDS [TARGET...]]
#
# FUZZ_BUILD_FLAGS is passed to `cargo fuzz build` and `run`, e.g.
# `--no-trace-compares` (about twice the executions per second for the
# targets that run code, with coarser guidance; see docs/HARDENING.md).
#
# Works on a fresh clone with a stable toolchain: installs cargo-fuzz if it
# is missing and builds without a sanitizer (`-s none`). Generated corpora
# and crash files go under $FUZZ_WORK (default /tmp/chronicle-fuzz), never
# into the repository; the committed seeds in fuzz/seeds/<target>/ are read
# only. A corpus is kept between runs, so later runs start where earlier
# ones stopped. To reproduce a finding, see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

each="${1:-30}"
shift || true
flags=(${FUZZ_BUILD_FLAGS:-})
case "$each" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac
work="${FUZZ_WORK:-/tmp/chronicle-fuzz}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz
echo "== building the fuzz targets (cargo fuzz build -s none ${flags[*]})"
cargo fuzz build -s none "${flags[@]}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

failed=()
printf '%-14s %12s %8s %8s  %s\n' target executions cov ft result
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    log="$work/$t.log"
    mkdir -p "$corpus" "$artifacts"
    rm -f "$artifacts"/*
    status=0
    cargo fuzz run -s none "${flags[@]}" "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$each" -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' ||
        grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    found=$(find "$artifacts" -type f | head -1)
    if [ "$status" -eq 0 ] && [ -z "$found" ]; then
        result=ok
    else
        result="FOUND SOMETHING (exit $status)"
        failed+=("$t")
    fi
    printf '%-14s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
    if [ "$result" != ok ]; then
        echo "---- $t: end of the log ($log)"
        grep -E -A1 'panicked at' "$log" | head -6 || true
        grep -E 'ERROR: libFuzzer|timeout|out-of-memory' "$log" | head -4 || true
        tail -n 40 "$log"
        if [ -n "$found" ]; then
            echo "---- input: $found ($(wc -c <"$found") bytes); base64 (decode with \`base64 -d\`):"
            head -c 4096 "$found" | base64
            echo "---- reproduce: cd fuzz && cargo fuzz run -s none $t $found"
        fi
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found something in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: no finding in ${#targets[@]} targets (${each}s each)"
