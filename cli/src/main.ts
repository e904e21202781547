#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { registerDeadLetters, registerRoles, registerVerify } from './commands/operator';
import { registerUp } from './commands/up';

/** The version of @bank/cli; main.js runs from cli/dist, next to which package.json sits one level up. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/**
 * The composition root of bank-cli. Each command lives in src/commands/<name>.ts and registers
 * itself on the program; the commands set process.exitCode rather than exiting, so that output
 * is written out before the process ends.
 */
const program = new Command('bank-cli')
  .description('operate the bank: run it locally, verify the ledger, requeue dead letters, grant roles')
  .version(packageVersion())
  .showHelpAfterError()
  .showSuggestionAfterError();

registerUp(program);
registerVerify(program);
registerDeadLetters(program);
registerRoles(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`bank-cli: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
