import type { Command } from 'commander';
import { authV1, type Consumer, defaultGrpcAddress } from '@bank/contracts';
import { BeeQueuePublisher, Database, DependencyHealth, GrpcCaller, createClient, createLogger, loadIdentity, listDeadLetters, platformMigrations, queueBacklogs, requeueDeadLetter, type QueueConnection, type WorkloadIdentity } from '@bank/platform';
import { EXIT_CONFIG, EXIT_FAILURE } from '../stack/errors';
import { tlsDirFrom } from '../stack/layout';

const DEFAULT_AUTH_ADDR = defaultGrpcAddress('auth-service');
export const ROLES_TIMEOUT_MS = 10_000;
const SERVICE_PREFIXES: Record<Consumer, string> = {
  'user-service': 'USER',
  'transaction-service': 'LEDGER',
  'payment-service': 'PAYMENT',
  'notification-service': 'NOTIFICATION',
};

/** bank-cli's own identity: from BANK_TLS_DIR, else the one `bank-cli up` made in the data directory. */
function operatorIdentity(env: NodeJS.ProcessEnv): WorkloadIdentity {
  return loadIdentity(tlsDirFrom(env), 'bank-cli');
}

function fail(message: string, code: number): void {
  console.error(`bank-cli: ${message}`);
  process.exitCode = code;
}

async function withServiceDatabase<T>(service: string, fn: (db: Database, consumer: Consumer) => Promise<T>): Promise<T | undefined> {
  if (!(service in SERVICE_PREFIXES)) {
    fail(`--service must be one of ${Object.keys(SERVICE_PREFIXES).join(', ')}`, EXIT_CONFIG);
    return undefined;
  }
  const consumer = service as Consumer;
  const variable = `${SERVICE_PREFIXES[consumer]}_DATABASE_URL`;
  const url = process.env[variable];
  if (!url) {
    fail(`${variable} must name ${service}'s database`, EXIT_CONFIG);
    return undefined;
  }
  const db = await Database.open({ clientUrl: url, migrations: platformMigrations, logger: createLogger('bank-cli', 'warn'), poolMax: 2 });
  try {
    return await fn(db, consumer);
  } finally {
    await db.close();
  }
}

/** The bank's queues: REDIS_URL and REDIS_QUEUE_PREFIX, as the services read them. */
function queueConnection(env: NodeJS.ProcessEnv): QueueConnection {
  return { redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: env.REDIS_QUEUE_PREFIX ?? 'bank' };
}

/** `bank-cli queues`: the backlog of each consumer's event queue. */
export function registerQueues(program: Command): void {
  program
    .command('queues')
    .description("show each consuming service's event queue: waiting, active, delayed (retries in back-off), failed")
    .action(async () => {
      const logger = createLogger('bank-cli', 'warn');
      try {
        const backlogs = await queueBacklogs(queueConnection(process.env), new DependencyHealth('redis', logger));
        for (const b of backlogs) {
          const note = b.routedTypes === 0 ? '  (no event type is routed here)' : '';
          console.log(`${b.consumer.padEnd(22)} waiting ${b.waiting}  active ${b.active}  delayed ${b.delayed}  failed ${b.failed}${note}`);
        }
      } catch (e) {
        fail(`queues: ${e instanceof Error ? e.message : String(e)}`, EXIT_FAILURE);
      }
    });
}

/** `bank-cli dead-letters list|requeue`: events a consumer gave up on after its retries. */
export function registerDeadLetters(program: Command): void {
  const group = program.command('dead-letters').description("list and requeue events a service's consumer gave up on");
  group
    .command('list')
    .requiredOption('--service <name>', 'the consuming service (reads <PREFIX>_DATABASE_URL)')
    .option('--limit <n>', 'how many (at most 100)', '100')
    .action(async (opts: { service: string; limit: string }) => {
      await withServiceDatabase(opts.service, async (db) => {
        const rows = await listDeadLetters(db, Number(opts.limit));
        for (const r of rows) console.log(`${r.id}  ${r.failedAt.toISOString()}  ${r.type}  event ${r.eventId}  attempts ${r.attempts}  ${r.error}`);
        console.log(`${rows.length} dead letter(s)`);
      });
    });
  group
    .command('requeue <id>')
    .requiredOption('--service <name>', 'the consuming service (reads <PREFIX>_DATABASE_URL)')
    .action(async (id: string, opts: { service: string }) => {
      await withServiceDatabase(opts.service, async (db) => {
        const logger = createLogger('bank-cli', 'warn');
        const publisher = new BeeQueuePublisher(queueConnection(process.env), new DependencyHealth('redis', logger));
        try {
          if (await requeueDeadLetter(db, publisher, id)) console.log(`requeued ${id}`);
          else fail(`no open dead letter ${id}`, EXIT_FAILURE);
        } finally {
          await publisher.close();
        }
      });
    });
}

/** `bank-cli roles set`: the only way to make someone an operator or admin (never the public API). */
export function registerRoles(program: Command): void {
  const group = program.command('roles').description("grant or revoke a user's roles (customer, operator, admin)");
  group
    .command('set')
    .requiredOption('--email <email>', 'the user')
    .requiredOption('--roles <list>', 'comma-separated, e.g. customer,operator')
    .option('--auth <host:port>', `auth-service address (default: AUTH_GRPC_ADDR or ${defaultGrpcAddress('auth-service')})`)
    .action(async (opts: { email: string; roles: string; auth?: string }) => {
      const client = createClient(authV1.AuthServiceClient, opts.auth ?? process.env.AUTH_GRPC_ADDR ?? DEFAULT_AUTH_ADDR, operatorIdentity(process.env));
      try {
        const caller = new GrpcCaller();
        const roles = opts.roles.split(',').map((r) => r.trim()).filter(Boolean);
        const res = await caller.unary<authV1.SetRolesResponse>((md, o, cb) => client.setRoles({ email: opts.email, roles }, md, o, cb), { timeoutMs: ROLES_TIMEOUT_MS });
        console.log(`${opts.email} (${res.userId}) now has roles: ${res.roles.join(', ')}; new tokens carry them`);
      } catch (e) {
        fail(`roles set failed: ${e instanceof Error ? e.message : String(e)}`, EXIT_FAILURE);
      } finally {
        client.close();
      }
    });
}
