#!/usr/bin/env node
// The committed entry point of bank-cli, so that npm links `bank-cli` at install time (its build
// output does not exist yet then) and `npx bank-cli` works right after `npm ci`. It runs the
// built CLI, building it first when the build output is missing.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const cliDir = path.resolve(__dirname, '..');
const builtMain = path.join(cliDir, 'dist', 'main.js');

if (!existsSync(builtMain)) {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [cliDir] });
  } catch {
    process.stderr.write('bank-cli is not built and TypeScript is not installed: run `npm ci && npm run build` in the repository first.\n');
    process.exit(78);
  }
  process.stderr.write('bank-cli is not built yet: building it (tsc -b cli) ...\n');
  const build = spawnSync(process.execPath, [tsc, '-b', path.join(cliDir, 'tsconfig.json')], { stdio: 'inherit' });
  if (build.status !== 0 || !existsSync(builtMain)) {
    process.stderr.write('bank-cli could not be built; run `npm run build` in the repository and read its errors.\n');
    process.exit(1);
  }
}

require(builtMain);
