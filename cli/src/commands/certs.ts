import type { Command } from 'commander';
import { WORKLOADS } from '@bank/contracts';
import { issueLocalIdentities } from '@bank/platform';
import { tlsDirFrom } from '../stack/layout';
import { operatorAction } from './context';

/**
 * `bank-cli certs issue`: a local CA and one certificate per workload, as `bank-cli up` makes
 * them, for running services by hand (README, "Running one service alone"). Production issues
 * them with its own PKI (cert-manager) instead; the files and their names are the same.
 */
export function registerCerts(program: Command): void {
  const group = program.command('certs').description("the workloads' mutual-TLS identities");
  const issue = group
    .command('issue')
    .description('make (or renew) a local CA and a certificate per workload; existing valid ones are kept')
    .option('--dir <path>', 'where (default: BANK_TLS_DIR, else BANK_DATA_DIR/tls)')
    .addHelpText('after', '\nExample:\n  bank-cli certs issue --dir ./tls && export BANK_TLS_DIR=$PWD/tls');
  issue.action(
    operatorAction(issue, async (ctx, opts: { dir?: string }) => {
      const dir = opts.dir ?? tlsDirFrom(ctx.env);
      await issueLocalIdentities(dir, WORKLOADS);
      return { human: `identities for ${WORKLOADS.join(', ')} in ${dir} (keys readable by their owner only)`, dir, workloads: [...WORKLOADS] };
    }),
  );
}
