import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { within } from './errors';

/** After SIGKILL, how long to wait for the exit to be reported before giving up on it. */
export const KILL_WAIT_MS = 5_000;

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. the binary is missing). */
  readonly error?: Error;
}

export interface ChildSpec {
  /** Shown in front of every line it writes and in messages about it. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Written to its stdin, which is then closed: a way to hand over secrets that argv and the environment would show. */
  readonly input?: string;
  /** Called with every line the process writes, stdout and stderr alike. */
  readonly onLine: (line: string) => void;
}

export interface Child {
  readonly name: string;
  readonly pid: number | undefined;
  /** Resolves once the process has exited and its output has been read to the end. */
  readonly exited: Promise<ChildExit>;
  readonly hasExited: boolean;
  /** SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
  stop(graceMs: number): Promise<ChildExit>;
  /** SIGKILL at once, synchronously: the last resort when bank-cli itself is going down. */
  kill(): void;
}

/** True while a process with this pid exists (a zombie counts until its parent reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid written in the first line of `file`, when there is one. */
export function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function describeExit(exit: ChildExit): string {
  if (exit.error !== undefined) return `could not be started (${exit.error.message})`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

/**
 * Starts a process in a process group of its own. Then a Ctrl-C at the terminal reaches only
 * bank-cli, which stops the processes in order (services before the stores they use) instead of
 * all of them at once; signals go to the whole group, so nothing a child started is left behind.
 */
export function startChild(spec: ChildSpec): Child {
  const proc = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    stdio: [spec.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
    windowsHide: true,
  });
  let exit: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    // 'close' comes after the output streams have ended, so the last lines are printed first.
    proc.once('close', (code, signal) => {
      exit ??= { code, signal };
      resolve(exit);
    });
    proc.once('error', (error) => {
      // A process that never started gets no 'close' when it had no streams to close.
      if (proc.pid === undefined) {
        exit ??= { code: null, signal: null, error };
        resolve(exit);
      }
    });
  });
  if (spec.input !== undefined) {
    // A process that dies before reading its input must not take bank-cli down with EPIPE.
    proc.stdin?.on('error', () => undefined);
    proc.stdin?.end(spec.input);
  }
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', spec.onLine);
  }

  const signal = (sig: NodeJS.Signals) => {
    if (exit !== undefined || proc.pid === undefined) return;
    try {
      process.kill(-proc.pid, sig);
    } catch {
      // The group may be gone already; the process itself is signalled as a fallback.
      proc.kill(sig);
    }
  };

  return {
    name: spec.name,
    pid: proc.pid,
    exited,
    get hasExited() {
      return exit !== undefined;
    },
    async stop(graceMs) {
      signal('SIGTERM');
      const graceful = await within(exited, graceMs);
      if (graceful !== undefined) return graceful;
      signal('SIGKILL');
      return (await within(exited, KILL_WAIT_MS)) ?? { code: null, signal: 'SIGKILL' };
    },
    kill: () => signal('SIGKILL'),
  };
}
