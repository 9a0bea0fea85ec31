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

# Signed traces: the hash chain proves integrity, a trusted key proves origin.
step keygen --out /tmp/chronicle-host.key --force
chronicle keygen --out /tmp/chronicle-host.key --force
step trace examples/audit-plugin.chr --policy examples/audit-policy.toml --sign /tmp/chronicle-host.key --out /tmp/audit-signed.ctrace
chronicle trace examples/audit-plugin.chr --policy examples/audit-policy.toml \
  --sign /tmp/chronicle-host.key --out /tmp/audit-signed.ctrace
step audit /tmp/audit-signed.ctrace --trusted-key /tmp/chronicle-host.key.pub
chronicle audit /tmp/audit-signed.ctrace --trusted-key /tmp/chronicle-host.key.pub

# A forger edits the recorded limits and re-seals the copy (header
# checksum, hash chain and footer recomputed, as viewer/test-support/
# rewrite.js does): plain audit cannot tell, and says it is unsigned;
# --trusted-key refuses it (exit 3).
if command -v node > /dev/null; then
  node -e 'const fs = require("fs");
    const { rewrite, limitsOf } = require("./viewer/test-support/rewrite.js");
    const bytes = new Uint8Array(fs.readFileSync(process.argv[1]));
    const limits = limitsOf(bytes);
    limits[0] = 4000000n;
    fs.writeFileSync(process.argv[2], rewrite(bytes, { limits }));' \
    /tmp/audit-signed.ctrace /tmp/audit-forged.ctrace
  step "audit /tmp/audit-forged.ctrace (re-sealed forgery: passes, but unsigned)"
  chronicle audit /tmp/audit-forged.ctrace | grep -E '^audit of|^  signature'
  step "audit /tmp/audit-forged.ctrace --trusted-key /tmp/chronicle-host.key.pub (exit 3)"
  if chronicle audit /tmp/audit-forged.ctrace --trusted-key /tmp/chronicle-host.key.pub; then
    echo "expected the re-sealed forgery to fail audit --trusted-key" >&2
    exit 1
  fi
else
  echo "(the re-sealed forgery needs node: skipped)"
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
