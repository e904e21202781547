import { loadConfig, ConfigError, v } from './config';
import { parseEnvFile, withEnvFile } from './dotenv';
import { KNOWN_ENV_VARS, commonSchema } from './env';

const FILE = '/repo/.env';
const schema = { ...commonSchema, LEDGER_GRPC_PORT: v.port('gRPC port', 50053) };
const tlsDir = '/etc/bank/tls';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('.env', () => {
  it('reads the file with Node grammar: comments, quotes, export, the last assignment winning', () => {
    const file = parseEnvFile('# comment\nLOG_LEVEL=debug\nexport MAIL_FROM="Bank <a@b.c>"\n\nLOG_LEVEL=warn\n', FILE);
    expect(file.values).toEqual({ LOG_LEVEL: 'warn', MAIL_FROM: 'Bank <a@b.c>' });
    expect(file.lines.get('LOG_LEVEL')).toBe(5);
    expect(file.lines.get('MAIL_FROM')).toBe(3);
  });

  it('applies what the environment does not set, and the environment wins over the file', () => {
    const file = parseEnvFile(`BANK_TLS_DIR=${tlsDir}\nLEDGER_GRPC_PORT=6001\nLOG_LEVEL=debug\n`, FILE);
    const environment = withEnvFile({ LOG_LEVEL: 'error', LEDGER_GRPC_PORT: '' }, file);
    const config = loadConfig(schema, environment.vars, KNOWN_ENV_VARS, environment.origins);
    expect(config.LOG_LEVEL).toBe('error');
    expect(config.BANK_TLS_DIR).toBe(tlsDir);
    // An empty value in the environment is still the environment's: it means "unset, take the default".
    expect(config.LEDGER_GRPC_PORT).toBe(50053);
    expect([...environment.origins.keys()].sort()).toEqual(['BANK_TLS_DIR']);
  });

  it('refuses an unknown bank variable in the file, naming the file and line; a bad value too', () => {
    const file = parseEnvFile(`BANK_TLS_DIR=${tlsDir}\nLOG_LEVEL=loud\n\nLEDGER_DATABSE_URL=postgres://x/y\n`, FILE);
    const environment = withEnvFile({}, file);
    expect(problemsOf(() => loadConfig(schema, environment.vars, KNOWN_ENV_VARS, environment.origins))).toEqual([
      'LEDGER_DATABSE_URL: unknown variable (not read by any bank service; a typo?) in /repo/.env line 4',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud") in /repo/.env line 2',
    ]);
  });

  it('without a file, the environment alone', () => {
    expect(withEnvFile({ LOG_LEVEL: 'info' }, undefined)).toEqual({ vars: { LOG_LEVEL: 'info' }, origins: new Map() });
  });
});
