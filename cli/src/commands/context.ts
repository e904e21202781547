import os from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { defaultGrpcAddress, serverOf } from '@bank/contracts';
import { Database, GrpcCaller, QUEUE_PREFIX, createClient, createLogger, loadIdentity, platformMigrations, recordOperatorAction, type ClientCtor, type GrpcClient, type QueueConnection, type UnaryInvoker, type WorkloadIdentity } from '@bank/platform';
import { EXIT_CONFIG, EXIT_FAILURE, StackError } from '../stack/errors';
import { GRPC_SERVICES, dataDirFrom, databaseUrlVar, grpcAddrVar, tlsDirFrom, type GrpcServiceDef } from '../stack/layout';
import { readStackFile, type StackFile } from '../stack/stack-file';

/** Bad usage: a missing or malformed argument (commander's own errors exit so too). */
export const EXIT_USAGE = 2;
/** The gateway's URL when neither BANK_GATEWAY_URL nor a running local stack names one. */
const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** bank-cli's pools: it runs one command at a time, a few statements at once. */
const OPERATOR_POOL_MAX = 4;
const PROGRESS_FPS = 10;
/** A call of bank-cli's waits this long unless the command says otherwise. */
export const CALL_TIMEOUT_MS = 15_000;

/** One call on a client, with bank-cli's deadline unless given another. */
export type Call = <R>(invoke: UnaryInvoker<R>, timeoutMs?: number) => Promise<R>;

/**
 * Where a command finds the bank: the documented variables first (any deployment), else the
 * local stack `bank-cli up` is running from the data directory (its stack.json), else the
 * defaults of a single machine.
 */
export class OperatorContext {
  readonly stack: StackFile | undefined;

  constructor(
    readonly env: NodeJS.ProcessEnv,
    /** Machine-readable output: one JSON document on stdout, nothing else there. */
    readonly json: boolean,
    /** Why the operator is doing this, for the audit record. */
    readonly reason: string,
  ) {
    this.stack = readStackFile(dataDirFrom(env));
  }

  identity(): WorkloadIdentity {
    return loadIdentity(tlsDirFrom(this.env), 'bank-cli');
  }

  grpcAddr(service: GrpcServiceDef): string {
    return this.setting(grpcAddrVar(service.prefix)) ?? this.stack?.services[service.prefix]?.grpcAddr ?? defaultGrpcAddress(service.name as Parameters<typeof defaultGrpcAddress>[0]);
  }

  databaseUrl(service: GrpcServiceDef): string {
    const url = this.setting(databaseUrlVar(service.prefix)) ?? this.stack?.services[service.prefix]?.databaseUrl;
    if (url === undefined || url === '') throw new StackError(`${databaseUrlVar(service.prefix)} must name ${service.name}'s database (or run \`npm start\`, whose stack bank-cli finds by itself)`, EXIT_CONFIG);
    return url;
  }

  gatewayUrl(): string {
    return this.setting('BANK_GATEWAY_URL') ?? this.stack?.gatewayUrl ?? DEFAULT_GATEWAY_URL;
  }

  queues(): QueueConnection {
    return { redisUrl: this.setting('REDIS_URL') ?? this.stack?.redisUrl ?? DEFAULT_REDIS_URL, prefix: this.setting('REDIS_QUEUE_PREFIX') ?? this.stack?.queuePrefix ?? QUEUE_PREFIX };
  }

  /** A client of the service that serves `ctor`, as bank-cli, for the length of `fn`. */
  async withClient<C extends GrpcClient, T>(ctor: ClientCtor<C>, fn: (client: C, call: Call) => Promise<T>): Promise<T> {
    const first = Object.values(ctor.service)[0];
    const service = GRPC_SERVICES.find((s) => first !== undefined && s.name === serverOf(first.path));
    if (!service) throw new Error(`no bank service serves ${first?.path ?? 'this client'}`);
    const client = createClient(ctor, this.grpcAddr(service), this.identity());
    const caller = new GrpcCaller();
    try {
      return await fn(client, (invoke, timeoutMs = CALL_TIMEOUT_MS) => caller.unary(invoke, { timeoutMs }));
    } finally {
      client.close();
    }
  }

  /** Opens a service's database for the length of `fn`. */
  async withDatabase<T>(service: GrpcServiceDef, fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await Database.open({ clientUrl: this.databaseUrl(service), migrations: platformMigrations, logger: createLogger('bank-cli', 'warn'), poolMax: OPERATOR_POOL_MAX });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  /**
   * Runs a command that changes `service`'s data and records it there (who, why, what, the
   * result), whether it succeeded or not.
   */
  async audited<T>(service: GrpcServiceDef, command: string, args: Readonly<Record<string, unknown>>, fn: () => Promise<T>): Promise<T> {
    // A record that cannot be written (the database away, its audit table migrated down) is said
    // on stderr; it does not undo or hide what the command did.
    const record = (ok: boolean, result: unknown) =>
      this.withDatabase(service, (db) => recordOperatorAction(db.sql, { osUser: operatorName(), reason: this.reason, command, arguments: args, ok, result })).catch((e: unknown) => {
        process.stderr.write(`bank-cli: could not record this in ${service.name}'s audit log: ${e instanceof Error ? e.message : String(e)}\n`);
      });
    try {
      const result = await fn();
      await record(true, result);
      return result;
    } catch (e) {
      await record(false, { error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }

  /** A progress bar with rate and ETA on a terminal; nothing when stdout is not one or output is JSON. */
  progress(total: number, label: string): { increment(by?: number): void; stop(): void } {
    if (this.json || process.stdout.isTTY !== true || total <= 1) return { increment: () => undefined, stop: () => undefined };
    const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted}`, fps: PROGRESS_FPS, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
    const startedAt = Date.now();
    let done = 0;
    bar.start(total, 0, { rate: '0' });
    return {
      increment: (by = 1) => {
        done += by;
        bar.update(done, { rate: (done / Math.max((Date.now() - startedAt) / 1000, 0.001)).toFixed(0) });
      },
      stop: () => bar.stop(),
    };
  }

  private setting(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }
}

/** Who is at the keyboard, as the OS knows them. */
function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The services by the names operators type: auth-service or auth. */
export function serviceNamed(name: string): GrpcServiceDef {
  const found = GRPC_SERVICES.find((s) => s.name === name || s.name === `${name}-service` || s.prefix.toLowerCase() === name.toLowerCase());
  if (!found) throw new StackError(`no service ${name}: one of ${GRPC_SERVICES.map((s) => s.name).join(', ')}`, EXIT_USAGE);
  return found;
}

type Output = { readonly human: string } & Readonly<Record<string, unknown>>;

/**
 * The body of every operator command: builds the context from the global options, prints the
 * result (its `human` text, or all of it but that as JSON), and maps failures to exit codes: a
 * StackError's own, otherwise 1. A result with `problems` > 0 exits 1 (found a problem).
 */
export function operatorAction<A extends unknown[]>(command: Command, run: (ctx: OperatorContext, ...args: A) => Promise<Output & { problems?: number }>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const globals = command.optsWithGlobals<{ json?: boolean; reason?: string }>();
    const json = globals.json === true;
    try {
      const ctx = new OperatorContext(process.env, json, globals.reason ?? '');
      const { human, ...data } = await run(ctx, ...args);
      process.stdout.write(json ? `${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n` : `${human}\n`);
      if ((data.problems ?? 0) > 0) process.exitCode = EXIT_FAILURE;
    } catch (e) {
      const exitCode = e instanceof StackError ? e.exitCode : EXIT_FAILURE;
      const message = e instanceof Error ? e.message : String(e);
      if (json) process.stdout.write(`${JSON.stringify({ error: { message, exitCode } })}\n`);
      process.stderr.write(`bank-cli: ${message}\n`);
      process.exitCode = exitCode;
    }
  };
}

/** Parses a positive whole number option, or fails with a usage error naming it. */
export function positiveInt(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new StackError(`${name} must be a whole number from 1 to ${max}`, EXIT_USAGE);
  return n;
}

/** Parses an amount in minor units (1250 is 12.50 EUR), or fails with a usage error naming it. The services check its range. */
export function minorUnits(name: string, raw: string): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(raw)) throw new StackError(`${name} must be a whole number of minor units (1250 is 12.50), without sign or decimal point`, EXIT_USAGE);
  return BigInt(raw);
}

/**
 * Runs `fn` on every item, at most `limit` at once, and fails with the first failure once the
 * calls in flight have settled (none is abandoned half-way).
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
