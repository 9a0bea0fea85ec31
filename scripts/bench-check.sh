#!/usr/bin/env bash
# Interpreter and tracer cost check that cannot flake on a noisy machine: for
# each benchmark workload, the host instructions (counted by callgrind, exact
# and repeatable) spent per executed VM instruction, against the committed
# baseline crates/chronicle-bench/baseline.txt. Fails when a check costs more
# than 15% over its baseline, or has no baseline line.
#
# Each workload is checked twice (crates/chronicle-bench/src/bin/vm-count.rs):
#   WORKLOAD          the plain interpreter (`vm-count WORKLOAD N`);
#   WORKLOAD-traced   the same run recorded as `chronicle trace` records it
#                     (`vm-count WORKLOAD N --traced`: a Recorder with the
#                     default options, 64 KiB LZ4 chunks and the BLAKE3 chain,
#                     into a sink), so an encoder or writer regression fails too.
# The traced runs use a quarter of the untraced sizes (callgrind is slow); their
# per-instruction cost agrees with the full sizes within 0.2%. Startup is
# measured with a size-0 run of the same mode and subtracted. The report also
# gives each traced/untraced ratio.
#
#   bash scripts/bench-check.sh            # check (about 40 s of callgrind)
#   bash scripts/bench-check.sh --update   # rewrite the baseline (commit it)
#
# The counts depend on the compiler: after a toolchain upgrade, re-run with
# --update and say so in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=crates/chronicle-bench/baseline.txt
tolerance=1.15
update=0
[ "${1:-}" = "--update" ] && update=1

# NAME WORKLOAD N [FLAG]
checks=(
  "fib fib 22"
  "loop loop 2000000"
  "sieve sieve 500000"
  "strings strings 100000"
  "fib-traced fib 20 --traced"
  "loop-traced loop 500000 --traced"
  "sieve-traced sieve 125000 --traced"
  "strings-traced strings 25000 --traced"
)

if ! command -v valgrind >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq valgrind
fi
cargo build --release --quiet -p chronicle-bench --bin vm-count
bin="${CARGO_TARGET_DIR:-target}/release/vm-count"

host_instructions() { # WORKLOAD N [FLAG] -> host instructions of one run
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$@" >/dev/null 2>&1
  awk '/^summary:/ { print $2 }' "$out"
  rm -f "$out"
}

status=0
report=""
declare -A measured
for spec in "${checks[@]}"; do
  set -- $spec
  name=$1 workload=$2 n=$3
  shift 3
  vm=$("$bin" "$workload" "$n" "$@")
  vm0=$("$bin" "$workload" 0 "$@")
  host=$(host_instructions "$workload" "$n" "$@")
  host0=$(host_instructions "$workload" 0 "$@")
  ratio=$(awk -v h="$host" -v h0="$host0" -v v="$vm" -v v0="$vm0" 'BEGIN { printf "%.2f", (h - h0) / (v - v0) }')
  measured[$name]=$ratio
  report+="$name $ratio"$'\n'
  note=""
  if [ -n "${measured[$workload]:-}" ] && [ "$name" != "$workload" ]; then
    note=$(awk -v t="$ratio" -v u="${measured[$workload]}" 'BEGIN { printf " (%.2fx untraced)", t / u }')
  fi
  if [ "$update" = 0 ] && [ -f "$baseline" ]; then
    base=$(awk -v w="$name" '$1 == w { print $2 }' "$baseline")
    if [ -z "$base" ]; then
      verdict="NO BASELINE (run bash scripts/bench-check.sh --update)"
    else
      verdict=$(awk -v r="$ratio" -v b="$base" -v t="$tolerance" 'BEGIN { print (r > b * t) ? "REGRESSION" : "ok" }')
    fi
    printf '%-15s %7s host instructions per VM instruction%s (baseline %s): %s\n' \
      "$name" "$ratio" "$note" "${base:-none}" "$verdict"
    [ "$verdict" = ok ] || status=1
  else
    printf '%-15s %7s host instructions per VM instruction%s\n' "$name" "$ratio" "$note"
  fi
done
if [ "$update" = 1 ] || [ ! -f "$baseline" ]; then
  printf '%s' "$report" > "$baseline"
  echo "wrote $baseline:"; cat "$baseline"
fi
exit $status
