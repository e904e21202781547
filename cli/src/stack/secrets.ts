import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EXIT_CONFIG, StackError } from './errors';

/** Length of the generated password of the embedded PostgreSQL superuser. */
export const POSTGRES_PASSWORD_LENGTH = 32;
/** The folder, beside the embedded cluster, of each service role's password (one file per database). */
export const POSTGRES_ROLE_SECRETS_DIR = 'postgres-roles';
/** Secrets are readable by their owner only, and so is a folder of them. */
const SECRET_FILE_MODE = 0o600;
const SECRET_DIR_MODE = 0o700;

/** A random string of URL-safe characters (base64url), so it can go into a connection URL as is. */
export function randomSecret(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4))
    .toString('base64url')
    .slice(0, length);
}

/**
 * Reads the secret kept in `file`, or generates one and keeps it there, so that it stays the same
 * from run to run (the embedded cluster's password is fixed when it is created). The file is
 * created exclusively: when two starts race, the loser reads the winner's secret.
 */
export async function readOrCreateSecret(file: string, length: number, minLength = length): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: SECRET_DIR_MODE });
  try {
    await writeFile(file, `${randomSecret(length)}\n`, { flag: 'wx', mode: SECRET_FILE_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  // A copied or hand-made file may be more open than it should be.
  await chmod(file, SECRET_FILE_MODE);
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < minLength) {
    throw new StackError(`${file} holds a secret shorter than ${minLength} characters; delete the file to have a new one generated`, EXIT_CONFIG);
  }
  return secret;
}
