#!/usr/bin/env bash
# The main job: a tour of what ChronicleVM does today, on the shipped examples.
set -euo pipefail
cd "$(dirname "$0")/.."
chronicle() { cargo run --quiet -p chronicle-cli -- "$@"; }
step() { printf '\n\033[1m$ chronicle %s\033[0m\n' "$*"; }

# The five-minute demo of SPEC §1, verbatim.
step trace examples/audit-plugin.chr --policy examples/audit-policy.toml --out /tmp/audit.ctrace
cargo run -p chronicle-cli -- trace examples/audit-plugin.chr \
  --policy examples/audit-policy.toml --out /tmp/audit.ctrace

step audit /tmp/audit.ctrace
cargo run -p chronicle-cli -- audit /tmp/audit.ctrace

step replay /tmp/audit.ctrace
cargo run -p chronicle-cli -- replay /tmp/audit.ctrace

step debug /tmp/audit.ctrace --commands "source;next;regs;caps;jump 20;why;quit"
cargo run -p chronicle-cli -- debug /tmp/audit.ctrace \
  --commands "source;next;regs;caps;jump 20;why;quit"

step inspect /tmp/audit.ctrace --events 0..6
chronicle inspect /tmp/audit.ctrace --events 0..6

step "audit of a tampered trace (one byte flipped: exit 3)"
cp /tmp/audit.ctrace /tmp/audit-tampered.ctrace
printf '\x55' | dd of=/tmp/audit-tampered.ctrace bs=1 seek=12000 conv=notrunc status=none
if chronicle audit /tmp/audit-tampered.ctrace; then
  echo "expected the tampered trace to fail its audit" >&2
  exit 1
fi

step caps examples/audit-plugin.chr --policy examples/audit-policy.toml
chronicle caps examples/audit-plugin.chr --policy examples/audit-policy.toml

step run examples/audit-plugin.chr --policy examples/audit-policy.toml
chronicle run examples/audit-plugin.chr --policy examples/audit-policy.toml

step "run examples/audit-plugin.chr (no policy: every capability denied, exit 2)"
if chronicle run examples/audit-plugin.chr; then
  echo "expected negotiation to fail without a policy" >&2
  exit 1
fi

step run examples/asm/fib.chasm
chronicle run examples/asm/fib.chasm

step build examples/asm/fib.chasm -o /tmp/fib.cbc
chronicle build examples/asm/fib.chasm -o /tmp/fib.cbc

step run /tmp/fib.cbc --json
chronicle run /tmp/fib.cbc --json

step disasm /tmp/fib.cbc
chronicle disasm /tmp/fib.cbc | head -n 20

step run examples/asm/strings.chasm
chronicle run examples/asm/strings.chasm

step run examples/asm/fib.chasm --instructions 1000 "(a limit hit: exit 1)"
if chronicle run examples/asm/fib.chasm --instructions 1000; then
  echo "expected the instruction limit to stop the run" >&2
  exit 1
fi

step "run (a corrupted module: exit 2)"
cp /tmp/fib.cbc /tmp/fib-corrupt.cbc
printf '\x00' | dd of=/tmp/fib-corrupt.cbc bs=1 seek=20 conv=notrunc status=none
if chronicle run /tmp/fib-corrupt.cbc; then
  echo "expected the corrupted module to be rejected" >&2
  exit 1
fi
echo
echo "demo finished"
