import { processEnvironment } from './dotenv';

/**
 * Configuration from environment variables, validated all at once at start: a service with bad
 * configuration names every bad variable and exits, instead of failing later on first use.
 */

type Parser<T> = (raw: string) => T;

export interface VarSpec<T> {
  readonly parse: Parser<T>;
  /** Used when the variable is absent; absent with no default is an error. */
  readonly default?: T;
  /** Never echoed back in error messages or logs. */
  readonly secret?: boolean;
  readonly doc: string;
}

export type Schema = Record<string, VarSpec<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends VarSpec<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Prefixes that belong to this bank. A variable with one of them that no schema of the bank knows
 * is almost always a typo (`DATABSE_URL`), so it is refused rather than silently ignored.
 */
export const BANK_PREFIXES = /^(BANK|AUTH|USER|PAYMENT|LEDGER|TRANSACTION|NOTIFICATION|GATEWAY|DATABASE|REDIS|SMTP|JWT|OUTBOX|SERVICE|MAIL)_/;

function fail(message: string): never {
  throw new Error(message);
}

export const v = {
  string(doc: string, opts: { default?: string; secret?: boolean; minLength?: number } = {}): VarSpec<string> {
    return {
      doc,
      default: opts.default,
      secret: opts.secret,
      parse: (raw) => (raw.length >= (opts.minLength ?? 1) ? raw : fail(`must be at least ${opts.minLength ?? 1} characters`)),
    };
  },
  int(doc: string, opts: { default?: number; min?: number; max?: number } = {}): VarSpec<number> {
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    return {
      doc,
      default: opts.default,
      parse: (raw) => {
        if (!/^-?\d+$/.test(raw)) fail('must be an integer');
        const n = Number(raw);
        if (n < min || n > max) fail(`must be between ${min} and ${max}`);
        return n;
      },
    };
  },
  port(doc: string, defaultPort?: number): VarSpec<number> {
    return v.int(doc, { default: defaultPort, min: 0, max: 65535 });
  },
  url(doc: string, protocols: readonly string[], opts: { default?: string; secret?: boolean } = {}): VarSpec<string> {
    return {
      doc,
      default: opts.default,
      secret: opts.secret,
      parse: (raw) => {
        let url: URL;
        try {
          url = new URL(raw);
        } catch {
          return fail('must be a URL');
        }
        if (!protocols.includes(url.protocol.replace(/:$/, ''))) fail(`must use ${protocols.join(' or ')}`);
        return raw;
      },
    };
  },
  oneOf<T extends string>(doc: string, values: readonly T[], defaultValue?: T): VarSpec<T> {
    return {
      doc,
      default: defaultValue,
      parse: (raw) => (values.includes(raw as T) ? (raw as T) : fail(`must be one of ${values.join(', ')}`)),
    };
  },
  bool(doc: string, defaultValue?: boolean): VarSpec<boolean> {
    return {
      doc,
      default: defaultValue,
      parse: (raw) => (raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : fail('must be true or false')),
    };
  },
  /** A PEM-encoded key; checked with the supplied validator (e.g. node:crypto createPrivateKey). */
  pem(doc: string, validate: (pem: string) => void, opts: { default?: string } = {}): VarSpec<string> {
    return {
      doc,
      default: opts.default,
      secret: true,
      parse: (raw) => {
        const pem = raw.replace(/\\n/g, '\n');
        try {
          validate(pem);
        } catch {
          return fail('must be a valid PEM key');
        }
        return pem;
      },
    };
  },
};

/**
 * Validates `env` against `schema`. `knownNames` is every variable any part of the bank reads, so
 * a variable with a bank prefix outside it is reported as unknown.
 */
export function loadConfig<S extends Schema>(
  schema: S,
  env: NodeJS.ProcessEnv,
  knownNames: Iterable<string> = Object.keys(schema),
  origins: ReadonlyMap<string, string> = new Map(),
): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (spec.default === undefined) problems.push(`${name}: is required (${spec.doc})`);
      else out[name] = spec.default;
      continue;
    }
    try {
      out[name] = spec.parse(raw);
    } catch (e) {
      const shown = spec.secret ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
      const origin = origins.has(name) ? ` in ${origins.get(name)}` : '';
      problems.push(`${name}: ${(e as Error).message}${shown}${origin}`);
    }
  }
  const known = new Set(knownNames);
  for (const name of Object.keys(env)) {
    if (BANK_PREFIXES.test(name) && !known.has(name) && !(name in schema)) {
      const origin = origins.has(name) ? ` in ${origins.get(name)}` : '';
      problems.push(`${name}: unknown variable (not read by any bank service; a typo?)${origin}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.sort());
  return out as ConfigOf<S>;
}

/**
 * Loads config or exits the process at once with code 78 (EX_CONFIG), naming every bad variable
 * (and the line of `.env` it came from). Without `env`, the process's environment is read with
 * the repository's `.env` under it.
 */
export function loadConfigOrExit<S extends Schema>(service: string, schema: S, env: NodeJS.ProcessEnv | undefined, knownNames?: Iterable<string>): ConfigOf<S> {
  const environment = env === undefined ? processEnvironment() : { vars: env, origins: new Map<string, string>() };
  try {
    return loadConfig(schema, environment.vars, knownNames, environment.origins);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${service}: ${e.message}\n`);
    process.exit(78);
  }
}
