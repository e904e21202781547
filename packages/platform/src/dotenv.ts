import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/** The file at the repository root that `npm start`, bank-cli and every service read, as docker compose does. */
export const ENV_FILE_NAME = '.env';

/** Variables and where each came from, for messages that must name a line of `.env`. */
export interface Environment {
  readonly vars: NodeJS.ProcessEnv;
  /** `<file> line <n>` for each variable that came from the file; absent for the real environment's. */
  readonly origins: ReadonlyMap<string, string>;
}

export interface EnvFile {
  readonly path: string;
  readonly values: Readonly<Record<string, string>>;
  /** The 1-based line each variable is set on (its last assignment, which is the one that counts). */
  readonly lines: ReadonlyMap<string, number>;
}

/**
 * The repository root above `start`: the first folder holding a package.json with `workspaces`.
 * Services run from apps/<name>/dist and bank-cli from cli/dist, so this finds the same root for
 * all of them wherever the command is run from.
 */
export function findRepoRoot(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { workspaces?: unknown };
      if (manifest.workspaces !== undefined) return dir;
    } catch {
      // No manifest here, or not one of ours: look further up.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Reads an env file (Node's own dotenv grammar, util.parseEnv); undefined when there is none. */
export function readEnvFile(file: string): EnvFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseEnvFile(text, file);
}

/** The variables of an env file's text, with the line each is set on. */
export function parseEnvFile(text: string, file: string): EnvFile {
  const values = Object.fromEntries(Object.entries(parseEnv(text)).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const lines = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, i) => {
    const name = /^\s*(?:export\s+)?([\w.-]+)\s*=/.exec(line)?.[1];
    if (name !== undefined && name in values) lines.set(name, i + 1);
  });
  return { path: file, values, lines };
}

/** `env` with the file's variables added where `env` does not set them: the real environment wins. */
export function withEnvFile(env: NodeJS.ProcessEnv, file: EnvFile | undefined): Environment {
  const vars: NodeJS.ProcessEnv = { ...env };
  const origins = new Map<string, string>();
  for (const [name, value] of Object.entries(file?.values ?? {})) {
    if (vars[name] !== undefined) continue;
    vars[name] = value;
    origins.set(name, `${file!.path} line ${file!.lines.get(name) ?? '?'}`);
  }
  return { vars, origins };
}

/** The process's environment with the repository's `.env` under it (the running program's repository). */
export function processEnvironment(entry: string = require.main?.filename ?? process.cwd()): Environment {
  const root = findRepoRoot(path.dirname(entry));
  return withEnvFile(process.env, root === undefined ? undefined : readEnvFile(path.join(root, ENV_FILE_NAME)));
}
