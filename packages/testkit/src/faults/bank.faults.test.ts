import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCENARIOS, SHORT_SCENARIOS, resultsTable, runFaultSeed, type RunOptions, type RunResult, type Scenario } from './harness';

// The fault harness as jest runs it (npm run test:faults, scripts/test-faults.mjs sets these):
// FAULT_SEEDS seeds from FAULT_FIRST_SEED, or FAULT_SEED alone (a replay); FAULT_SHORT=1 is CI's
// short form (kill-each, or redis-down then db-unreachable, seed by seed, with shorter outages); otherwise
// seed n runs the n-th scenario of the list (and, past the list's end, two at once). The table is
// printed and written as JSON to FAULT_RESULTS.

const FULL_OUTAGE_MS = 30_000;
const SHORT_OUTAGE_MS = 8_000;
const SEED_TIMEOUT_MS = 15 * 60_000;
const env = process.env;
const short = env.FAULT_SHORT === '1';
const first = Number(env.FAULT_SEED ?? env.FAULT_FIRST_SEED ?? '1');
const count = env.FAULT_SEED !== undefined ? 1 : Number(env.FAULT_SEEDS ?? '1');
const only = env.FAULT_SCENARIOS ? (env.FAULT_SCENARIOS.split(',') as Scenario[]) : undefined;
const resultsPath = env.FAULT_RESULTS ?? path.resolve(__dirname, '..', '..', '..', '..', '.data', 'faults', 'results.json');

function scenariosOf(seed: number): readonly Scenario[] {
  if (only) return only;
  // The short form's seeds take turns: odd ones crash every service, even ones take Redis and a database away.
  if (short) return seed % 2 === 1 ? [SHORT_SCENARIOS[0] as Scenario] : SHORT_SCENARIOS.slice(1);
  const i = (seed - 1) % SCENARIOS.length;
  const lap = Math.floor((seed - 1) / SCENARIOS.length);
  return lap === 0 ? [SCENARIOS[i] as Scenario] : [SCENARIOS[i] as Scenario, SCENARIOS[(i + 3 + lap) % SCENARIOS.length] as Scenario];
}

const options = (seed: number): RunOptions => ({ seed, scenarios: scenariosOf(seed), outageMs: short ? SHORT_OUTAGE_MS : FULL_OUTAGE_MS, users: 6, accountsPerUser: 2, clients: 8 });
const results: RunResult[] = [];

afterAll(() => {
  const table = resultsTable(results);
  process.stdout.write(`\nfault harness (${short ? 'short form' : 'full'}):\n${table}\n\n`);
  mkdirSync(path.dirname(resultsPath), { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results written to ${resultsPath}\n`);
});

describe('the bank under faults', () => {
  for (let seed = first; seed < first + count; seed++) {
    it(`seed ${seed}: ${scenariosOf(seed).join(' + ')}: no money made or lost, every saga ended, every event applied once`, async () => {
      const r = await runFaultSeed(options(seed));
      results.push(r);
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      expect([`seed ${seed}`, failed]).toEqual([`seed ${seed}`, []]);
      // The faults really happened, and the load really ran through them.
      expect(r.faults.length).toBeGreaterThan(0);
      expect(r.operations.ok).toBeGreaterThan(0);
    }, SEED_TIMEOUT_MS);
  }

  // The checks can fail: a consumer that applied an event twice (a deposit's credit made again
  // behind the bank's back) is caught, by the money check and verify, naming the seed.
  if (env.FAULT_PROVE === '1') {
    it('fails a seed whose run applied an event twice', async () => {
      const r = await runFaultSeed({ ...options(first), scenarios: ['gateway-kill'], sabotage: 'double-apply' });
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
      expect(failed).toEqual(expect.arrayContaining(['money: customers hold exactly the deposits', 'bank-cli verify clean']));
      expect(resultsTable([r])).toContain(`seed ${first}: money: customers hold exactly the deposits`);
    }, SEED_TIMEOUT_MS);
  }
});
