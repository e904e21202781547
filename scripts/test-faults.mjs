#!/usr/bin/env node
// npm run test:faults -- [--seeds N] [--seed S] [--first-seed S] [--short] [--scenarios a,b] [--no-prove]
// Runs the fault harness (packages/testkit/src/faults) under jest, one seed after another, and
// prints its results table. A failing seed is named; `--seed S` replays it (same operations, same
// fault schedule). The full form also proves the checks can fail (an event applied twice).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const env = { ...process.env, BANK_FAULTS: '1' };
const value = (i, name) => {
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`test:faults: ${name} needs a value`);
    process.exit(2);
  }
  return v;
};
const whole = (v, name) => {
  if (!/^[1-9][0-9]{0,6}$/.test(v)) {
    console.error(`test:faults: ${name} must be a whole number from 1`);
    process.exit(2);
  }
  return v;
};
let prove = true;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--seeds') env.FAULT_SEEDS = whole(value(i++, a), a);
  else if (a === '--seed') env.FAULT_SEED = whole(value(i++, a), a);
  else if (a === '--first-seed') env.FAULT_FIRST_SEED = whole(value(i++, a), a);
  else if (a === '--scenarios') env.FAULT_SCENARIOS = value(i++, a);
  else if (a === '--short') env.FAULT_SHORT = '1';
  else if (a === '--no-prove') prove = false;
  else {
    console.error(`test:faults: unknown option ${a}`);
    process.exit(2);
  }
}
if (prove && env.FAULT_SHORT !== '1' && env.FAULT_SEED === undefined) env.FAULT_PROVE = '1';
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const r = spawnSync(process.execPath, [jest, '--ci', '--runInBand', '--selectProjects', 'faults'], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
