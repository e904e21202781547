import { spawnSync } from 'node:child_process';

/** The baseline every benchmark of the bank is divided by: pgbench's tpcb-like on the same PostgreSQL. */
export const PGBENCH = { scale: 10, clients: 4, threads: 2 } as const;

/**
 * Runs pgbench tpcb-like (scale 10, 4 clients) for `seconds` on the database at `url` (made
 * fresh by `pgbench -i`) and returns its transactions per second.
 */
export function pgbenchTps(url: string, seconds: number): number {
  const u = new URL(url);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres', u.pathname.slice(1)];
  const init = spawnSync('pgbench', ['-i', '-q', '-s', String(PGBENCH.scale), ...conn], { env, encoding: 'utf8' });
  if (init.error) throw new Error(`pgbench could not run (${init.error.message}): install postgresql-client`);
  if (init.status !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  const run = spawnSync('pgbench', ['-b', 'tpcb-like', '-c', String(PGBENCH.clients), '-j', String(PGBENCH.threads), '-T', String(seconds), ...conn], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`pgbench failed: ${run.stderr}`);
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(run.stdout);
  if (!match) throw new Error(`no tps in pgbench output:\n${run.stdout}`);
  return Number(match[1]);
}
