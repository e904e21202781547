#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ConfigError, KNOWN_ENV_VARS, loadConfig, processEnvironment } from '@bank/platform';
import { registerVerify } from './commands/verify';
import { registerMigrate } from './commands/migrate';
import { registerAudit } from './commands/audit';
import { registerDeadLetters, registerHolds, registerOutbox, registerQueues } from './commands/events';
import { registerUsers } from './commands/users';
import { registerSeed } from './commands/seed';
import { registerSaga } from './commands/saga';
import { EXIT_USAGE } from './commands/context';
import { registerCerts } from './commands/certs';
import { registerUp } from './commands/up';
import { EXIT_CONFIG } from './stack/errors';

/** The version of @bank/cli; main.js runs from cli/dist, next to which package.json sits one level up. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/**
 * The repository's `.env` under the real environment, for every command and the services `up`
 * starts. A bank variable no part of the bank reads is refused here, naming the line of `.env` it
 * is on, before anything starts.
 */
function applyEnvFile(): boolean {
  const environment = processEnvironment(__filename);
  try {
    loadConfig({}, environment.vars, KNOWN_ENV_VARS, environment.origins);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`bank-cli: ${e.message}\n`);
    return false;
  }
  for (const name of environment.origins.keys()) process.env[name] = environment.vars[name];
  return true;
}

/**
 * The composition root of bank-cli. Each command lives in src/commands/<name>.ts and registers
 * itself on the program; the commands set process.exitCode rather than exiting, so that output
 * is written out before the process ends.
 */
const program = new Command('bank-cli')
  .description('operate the bank: run it locally, migrate, seed, verify every service, replay events, drive sagas, manage users and keys')
  .version(packageVersion())
  .option('--json', 'machine-readable output: one JSON document on stdout')
  .option('--reason <text>', 'why you are doing this, recorded with every change in the audit log')
  .showHelpAfterError()
  .showSuggestionAfterError()
  // Usage errors exit 2 (help and --version 0), as sysexits-minded scripts expect; every
  // subcommand registered below inherits this.
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
    // commander has said what was wrong on stderr; a script asking for JSON gets it as a document too.
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { message: err.message, exitCode: EXIT_USAGE } })}\n`);
    process.exit(EXIT_USAGE);
  });

registerUp(program);
registerVerify(program);
registerMigrate(program);
registerSeed(program);
registerAudit(program);
registerOutbox(program);
registerHolds(program);
registerSaga(program);
registerDeadLetters(program);
registerQueues(program);
registerUsers(program);
registerCerts(program);

if (!applyEnvFile()) {
  process.exitCode = EXIT_CONFIG;
} else {
  program.parseAsync(process.argv).catch((e: unknown) => {
    console.error(`bank-cli: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  });
}
