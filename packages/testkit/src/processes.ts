import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';

// Helpers for end-to-end tests that run `bank-cli up` and the services as real processes.

const LOOPBACK = '127.0.0.1';
const PROBE_TIMEOUT_MS = 2_000;
/** The defaults `npm start` takes, which a developer's running stack may hold. */
export const STACK_DEFAULT_PORTS: ReadonlySet<number> = new Set([50051, 50052, 50053, 50054, 50055, 8080, 9464, 9465, 9466, 9467, 9468, 9469, 1025, 1080, 54329, 63799]);
/** Variables of the bank that the environment of the test run must not leak into a stack it starts. */
export const BANK_VARIABLE = /^(BANK|AUTH|USER|PAYMENT|LEDGER|TRANSACTION|NOTIFICATION|GATEWAY|DATABASE|REDIS|SMTP|JWT|OUTBOX|SERVICE|MAIL|MAILDEV)_/;

/** Distinct free ports on loopback, none of them a stack default: all are held until every one is chosen. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host: LOOPBACK, port: 0, exclusive: true }, resolve));
      servers.push(server);
      const port = (server.address() as net.AddressInfo).port;
      if (!STACK_DEFAULT_PORTS.has(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose environment holds `entry` (e.g. `BANK_DATA_DIR=/tmp/x`): a stack and every child of it. */
export async function processesWithEnv(entry: string): Promise<number[]> {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, 'latin1');
      if (environ.split('\0').includes(entry)) pids.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** The status of a GET; the connection is closed afterwards so no socket outlives the test. */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.once('error', reject);
  });
}

export interface RunningStack {
  readonly process: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGINT, as a person's Ctrl-C; resolves with the exit, or 'timeout'. */
  stop(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'>;
}

/** Starts `node <cliEntry> up` and resolves with the gateway URL it prints once everything answers. */
export async function startStack(opts: { cliEntry: string; cwd: string; env: NodeJS.ProcessEnv; readyTimeoutMs: number }): Promise<{ stack: RunningStack; gatewayUrl: string }> {
  const proc = spawn(process.execPath, [opts.cliEntry, 'up'], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const stack: RunningStack = {
    process: proc,
    output: () => output,
    exited,
    async stop(timeoutMs) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
      clearTimeout(timer);
      return result;
    },
  };
  const gatewayUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no gateway URL within ${opts.readyTimeoutMs} ms; output:\n${output}`)), opts.readyTimeoutMs);
    const look = () => {
      const match = /^bank-cli\s+\|\s+gateway\s+(http:\/\/\S+)$/m.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        proc.stdout!.off('data', look);
        resolve(match[1]);
      }
    };
    proc.stdout!.on('data', look);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`bank-cli exited (${JSON.stringify(e)}) before it was ready; output:\n${output}`));
    });
  });
  return { stack, gatewayUrl };
}
