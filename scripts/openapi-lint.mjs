// Lints the gateway's generated OpenAPI document with Redocly's recommended rules (CI runs this
// after the build). The document is the one /openapi.json serves, written to a temporary file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const { OPENAPI_DOCUMENT } = require(path.join(ROOT, 'apps/api-gateway/dist/http/openapi.js'));
const dir = mkdtempSync(path.join(tmpdir(), 'bank-openapi-'));
const file = path.join(dir, 'openapi.json');
try {
  writeFileSync(file, JSON.stringify(OPENAPI_DOCUMENT, null, 2));
  const redocly = path.join(ROOT, 'node_modules/.bin/redocly');
  // Telemetry off: CI machines reach nothing outside, and the lint needs nothing from outside.
  const run = spawnSync(redocly, ['lint', file, '--format=stylish', `--config=${path.join(ROOT, 'redocly.yaml')}`], { stdio: 'inherit', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
