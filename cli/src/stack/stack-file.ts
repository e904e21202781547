import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServicePrefix } from './layout';

/** The running local stack's addresses, in its data directory: how bank-cli's commands find it with no settings. */
export const STACK_FILE_NAME = 'stack.json';
const STACK_FILE_MODE = 0o600;

export interface StackFile {
  readonly pid: number;
  readonly gatewayUrl: string;
  readonly redisUrl: string;
  readonly queuePrefix: string;
  /** Each service's gRPC address and database URL (with its own role's password: hence 0600). */
  readonly services: Readonly<Partial<Record<ServicePrefix, { readonly grpcAddr: string; readonly databaseUrl: string }>>>;
}

export function stackFilePath(dataDir: string): string {
  return path.join(dataDir, STACK_FILE_NAME);
}

export async function writeStackFile(dataDir: string, stack: StackFile): Promise<void> {
  await writeFile(stackFilePath(dataDir), `${JSON.stringify(stack, null, 2)}\n`, { mode: STACK_FILE_MODE });
}

export async function removeStackFile(dataDir: string): Promise<void> {
  await rm(stackFilePath(dataDir), { force: true });
}

/** The stack `bank-cli up` runs from this data directory, if one is running (its process is alive). */
export function readStackFile(dataDir: string): StackFile | undefined {
  let stack: StackFile;
  try {
    stack = JSON.parse(readFileSync(stackFilePath(dataDir), 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
  try {
    process.kill(stack.pid, 0);
  } catch {
    return undefined;
  }
  return stack;
}
