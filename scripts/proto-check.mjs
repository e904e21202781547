// Fails when packages/contracts/src/gen no longer matches what proto/ generates, or when buf lint
// fails. The generated code is committed so builds need no buf; this check is what keeps it honest.
// It regenerates into a temporary directory and compares byte for byte, so the working tree is never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const BUF = path.join(ROOT, 'node_modules', '.bin', 'buf');
const GEN_DIR = path.join('packages', 'contracts', 'src', 'gen'); // buf.gen.yaml's `out`, relative to the root.
const TEMP_PREFIX = 'proto-check-';
const DRIFT_MESSAGE = 'generated code differs from proto/: run npm run proto and commit';

/** Runs buf from the repo root with its output shown; returns whether it succeeded. */
function buf(...args) {
  const result = spawnSync(BUF, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.error) console.error(`proto-check: cannot run ${BUF}: ${result.error.message}`);
  return result.status === 0;
}

/** Relative paths of all files under `dir`; an absent directory has none. */
function filesUnder(dir, prefix = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    return entry.isDirectory() ? filesUnder(path.join(dir, entry.name), relative) : [relative];
  });
}

/** One line per file that is missing, extra or different in `actual` compared with `expected`. */
function compareTrees(expected, actual) {
  const expectedFiles = new Set(filesUnder(expected));
  const actualFiles = new Set(filesUnder(actual));
  const drift = [];
  for (const file of [...new Set([...expectedFiles, ...actualFiles])].sort()) {
    const shown = path.join(GEN_DIR, file);
    if (!actualFiles.has(file)) drift.push(`missing: ${shown}`);
    else if (!expectedFiles.has(file)) drift.push(`extra:   ${shown}`);
    else if (!readFileSync(path.join(expected, file)).equals(readFileSync(path.join(actual, file)))) drift.push(`differs: ${shown}`);
  }
  return drift;
}

const temp = mkdtempSync(path.join(tmpdir(), TEMP_PREFIX));
let failed = false;
try {
  if (!buf('generate', '--output', temp)) {
    console.error('proto-check: buf generate failed');
    failed = true;
  } else {
    const drift = compareTrees(path.join(temp, GEN_DIR), path.join(ROOT, GEN_DIR));
    if (drift.length > 0) {
      console.error(drift.join('\n'));
      console.error(DRIFT_MESSAGE);
      failed = true;
    }
  }
  if (!buf('lint')) {
    console.error('proto-check: buf lint failed');
    failed = true;
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}

if (failed) process.exit(1);
console.log('proto-check: generated code matches proto/ and buf lint passes');
