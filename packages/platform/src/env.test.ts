import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { KNOWN_ENV_VARS } from './env';

const ROOT = path.resolve(__dirname, '..', '..', '..');

const COMPOSE_SECTION = '# --- docker compose';

describe('the environment variables', () => {
  it('.env.example documents exactly the variables the bank knows', () => {
    // Its last section is docker compose's own (scripts/check-deploy.mjs checks those): no service reads them.
    const [services, compose] = readFileSync(path.join(ROOT, '.env.example'), 'utf8').split(COMPOSE_SECTION);
    expect(compose).toContain('POSTGRES_PASSWORD');
    const documented = (services as string)
      .split('\n')
      .map((l) => /^# ([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
      .filter((name) => name !== undefined);
    expect([...documented].sort()).toEqual([...KNOWN_ENV_VARS].sort());
  });

  it("every app's config schema reads only known variables", () => {
    const appsDir = path.join(ROOT, 'apps');
    for (const app of readdirSync(appsDir)) {
      const file = path.join(appsDir, app, 'src', 'config.ts');
      if (!existsSync(file)) continue;
      const names = [...readFileSync(file, 'utf8').matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect({ app, name, known: (KNOWN_ENV_VARS as readonly string[]).includes(name as string) }).toEqual({ app, name, known: true });
    }
  });
});
