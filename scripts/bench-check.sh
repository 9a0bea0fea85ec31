#!/usr/bin/env bash
# Interpreter cost check that cannot flake on a noisy machine: for each
# benchmark workload, the host instructions (counted by callgrind, exact and
# repeatable) spent per executed VM instruction, against the committed
# baseline crates/chronicle-bench/baseline.txt. Fails when a workload costs
# more than 15% over its baseline. Startup is measured with a size-0 run and
# subtracted.
#
#   bash scripts/bench-check.sh            # check
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

if ! command -v valgrind >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq valgrind
fi
cargo build --release --quiet -p chronicle-bench --bin vm-count
bin="${CARGO_TARGET_DIR:-target}/release/vm-count"

host_instructions() { # WORKLOAD N -> host instructions of one run
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  awk '/^summary:/ { print $2 }' "$out"
  rm -f "$out"
}

status=0
report=""
for spec in "fib 22" "loop 2000000" "sieve 500000" "strings 100000"; do
  set -- $spec
  vm=$("$bin" "$1" "$2")
  vm0=$("$bin" "$1" 0)
  host=$(host_instructions "$1" "$2")
  host0=$(host_instructions "$1" 0)
  ratio=$(awk -v h="$host" -v h0="$host0" -v v="$vm" -v v0="$vm0" 'BEGIN { printf "%.2f", (h - h0) / (v - v0) }')
  report+="$1 $ratio"$'\n'
  if [ "$update" = 0 ] && [ -f "$baseline" ]; then
    base=$(awk -v w="$1" '$1 == w { print $2 }' "$baseline")
    verdict=$(awk -v r="$ratio" -v b="$base" -v t="$tolerance" 'BEGIN { print (r > b * t) ? "REGRESSION" : "ok" }')
    printf '%-8s %6s host instructions per VM instruction (baseline %s): %s\n' "$1" "$ratio" "$base" "$verdict"
    [ "$verdict" = ok ] || status=1
  fi
done
if [ "$update" = 1 ] || [ ! -f "$baseline" ]; then
  printf '%s' "$report" > "$baseline"
  echo "wrote $baseline:"; cat "$baseline"
fi
exit $status
