// Records traces with the real CLI (`chronicle trace`) for the Node and
// browser tests: the example plugins under their policies, and a run of
// about a million events. Run from the repository root, as the policies'
// paths are relative to it. Usable as a script:
//   node viewer/test-support/traces.js OUT_DIR      (CHRONICLE_BIN=path/to/chronicle)
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

/// The chronicle binary: $CHRONICLE_BIN. Under CI it must be set; elsewhere
/// its absence is reported by the caller, which skips what needs it.
function chronicleBin() {
  const bin = process.env.CHRONICLE_BIN;
  if (bin && fs.existsSync(bin)) return path.resolve(bin);
  return null;
}

const PLUGINS = [
  { name: 'audit-plugin', args: ['examples/audit-plugin.chr', '--policy', 'examples/audit-policy.toml'] },
  { name: 'log-stats', args: ['examples/log-stats.chr', '--policy', 'examples/log-stats-policy.toml'] },
  { name: 'csv-report', args: ['examples/csv-report.chr', '--policy', 'examples/csv-report-policy.toml'] },
  { name: 'config-lint', args: ['examples/config-lint.chr', '--policy', 'examples/config-lint-policy.toml'] },
  { name: 'kitchen-sink', args: ['viewer/test/fixtures/kitchen-sink.chr', '--policy', 'viewer/test/fixtures/kitchen-sink-policy.toml'] },
  { name: 'out-of-scope', args: ['viewer/test/fixtures/out-of-scope.chr', '--policy', 'viewer/test/fixtures/out-of-scope-policy.toml'], fails: true },
  { name: 'alloc-limit', args: ['viewer/test/fixtures/alloc-limit.chr', '--policy', 'viewer/test/fixtures/alloc-limit-policy.toml'], fails: true },
];

/// Records the example traces into `dir` (and, with `million`, the long
/// run); returns { name: path }. Reuses files that already exist there.
function makeTraces(bin, dir, options) {
  fs.mkdirSync(dir, { recursive: true });
  const out = {};
  const list = PLUGINS.slice();
  if (options && options.million) {
    list.push({ name: 'million', args: ['viewer/test/fixtures/million.chr', '--instructions', '50000000'] });
  }
  for (const p of list) {
    const file = path.join(dir, `${p.name}.ctrace`);
    if (!fs.existsSync(file)) {
      try {
        execFileSync(bin, ['trace', ...p.args, '--out', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        // A plugin that fails at run time still leaves a complete trace (exit 1).
        if (!(p.fails && e.status === 1 && fs.existsSync(file))) {
          throw new Error(`chronicle trace ${p.args.join(' ')} failed: ${e.stderr}`);
        }
      }
    }
    out[p.name] = file;
  }
  return out;
}

/// Whether `chronicle inspect` reads under reader caps (it then takes
/// `--unbounded` and the `--max-*` flags); asked once per binary.
const capable = new Map();
function inspectHasCaps(bin) {
  if (!capable.has(bin)) {
    const help = execFileSync(bin, ['inspect', '--help'], { cwd: ROOT }).toString('utf8');
    capable.set(bin, /--unbounded\b/.test(help));
  }
  return capable.get(bin);
}

/// The arguments that make `chronicle inspect` read without caps, as the
/// viewer does with `T.UNBOUNDED_CAPS` (none if it has no caps).
function uncapped(bin) {
  return inspectHasCaps(bin) ? ['--unbounded'] : [];
}

/// `chronicle inspect FILE --json [--events 0..] [EXTRA...]`, parsed.
function inspect(bin, file, events, extra) {
  const args = ['inspect', file, '--json', ...(extra || [])];
  if (events) args.push('--events', '0..');
  const text = execFileSync(bin, args, { cwd: ROOT, maxBuffer: 1 << 30 }).toString('utf8');
  return JSON.parse(text);
}

/// The Rust reader's verdict on FILE, from `chronicle inspect FILE --json
/// [EXTRA...]`: ['ok' or the error message (as the viewer's TraceError
/// words it), the events read before it].
function rustVerdict(bin, file, extra) {
  let out;
  try {
    out = execFileSync(bin, ['inspect', file, '--json', ...(extra || [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // Exit 3: not intact (JSON when the header was read, else only stderr);
    // exit 2: not a trace this build reads.
    if (e.stdout && e.stdout.length) {
      const j = JSON.parse(e.stdout.toString('utf8'));
      return [`${j.integrity.error} (at byte ${j.integrity.offset})`, j.events_total];
    }
    const prefix = `error: ${file}: `;
    const line = e.stderr.toString('utf8').split('\n')[0];
    if (!line.startsWith(prefix)) throw e;
    return [line.slice(prefix.length).replace(/^integrity check failed: /, ''), 0];
  }
  const j = JSON.parse(out.toString('utf8'));
  if (!j.integrity.ok) throw new Error(`exit 0 for a trace that is not intact: ${file}`);
  return ['ok', j.events_total];
}

module.exports = { ROOT, chronicleBin, makeTraces, inspect, rustVerdict, inspectHasCaps, uncapped };

if (require.main === module) {
  const bin = chronicleBin();
  if (!bin) {
    console.error('set CHRONICLE_BIN to the chronicle binary (cargo build -p chronicle-cli)');
    process.exit(2);
  }
  const dir = path.resolve(process.argv[2] || path.join(ROOT, 'viewer', 'test-artifacts', 'traces'));
  const made = makeTraces(bin, dir, { million: true });
  for (const [name, file] of Object.entries(made)) console.log(`${name}: ${file}`);
}
