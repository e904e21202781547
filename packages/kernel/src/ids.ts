import { createHash, randomFillSync } from 'node:crypto';

/**
 * Random bytes are drawn from the OS this many ids at a time: one randomBytes call per id was a
 * twentieth of the ledger's CPU time under load (the uuid package pools the same way).
 */
const IDS_PER_RANDOM_POOL = 256;
const pool = Buffer.alloc(16 * IDS_PER_RANDOM_POOL);
let poolOffset = pool.length;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids sort by creation
 * time, so B-tree inserts stay on the right edge of the index instead of splitting random pages.
 */
export function newId(nowMs: number = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  // A fresh buffer per id: the pool is refilled in place, and the id must not change under it.
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A name-based UUID (version 5, SHA-1): the same namespace and name always give the same id. Used
 * where an id must be derivable, e.g. a currency's system accounts or a payment's ledger transfers.
 */
export function deterministicId(namespace: string, name: string): string {
  const bytes = createHash('sha1').update(`${namespace}\u0000${name}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
