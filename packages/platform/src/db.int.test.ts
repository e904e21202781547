import { InvariantViolation } from '@bank/kernel';
import { captureLogger, createTestDatabase } from '@bank/testkit';
import { Database } from './db';

// The unit of work: a transaction opened inside another joins it, so that stores called from a
// consumer's transaction commit or roll back with it; work that outlives it gets its own.

const { logger } = captureLogger('db-test');
let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  const t = await createTestDatabase('platform_db');
  drop = t.drop;
  db = await Database.open({ clientUrl: t.url, migrations: [], logger });
  await db.sql.query('CREATE TABLE notes (id integer PRIMARY KEY)');
});

afterAll(async () => {
  await db?.close();
  await drop?.();
});

const notes = async () => (await db.sql.query<{ id: number }>('SELECT id FROM notes ORDER BY id')).rows.map((r) => r.id);

describe('Database units of work', () => {
  beforeEach(() => db.sql.query('TRUNCATE notes'));

  it('a transaction inside another joins it: the inner write rolls back with the outer failure', async () => {
    await expect(
      db.transaction(async (c) => {
        await c.query('INSERT INTO notes VALUES (1)');
        await db.transaction((inner) => inner.query('INSERT INTO notes VALUES (2)'));
        await db.sql.query('INSERT INTO notes VALUES (3)');
        expect((await db.sql.query('SELECT count(*)::int AS n FROM notes')).rows[0].n).toBe(3);
        throw new Error('fails after every write');
      }),
    ).rejects.toThrow('fails after every write');
    expect(await notes()).toEqual([]);
  });

  it('commits what the joined calls wrote together', async () => {
    await db.transaction(async () => {
      await db.transaction((c) => c.query('INSERT INTO notes VALUES (1)'));
      await db.sql.query('INSERT INTO notes VALUES (2)');
    });
    expect(await notes()).toEqual([1, 2]);
  });

  it('refuses to join at another isolation level', async () => {
    await expect(db.transaction(() => db.transaction(async () => undefined, 'SERIALIZABLE'))).rejects.toThrow(InvariantViolation);
  });

  it('gives work still running after its transaction ended a unit of work of its own', async () => {
    let later: Promise<unknown> | undefined;
    await db.transaction(async (c) => {
      await c.query('INSERT INTO notes VALUES (1)');
      later = new Promise((r) => setTimeout(r, 50)).then(() => db.transaction((d) => d.query('INSERT INTO notes VALUES (2)')));
    });
    await later;
    expect(await notes()).toEqual([1, 2]);
  });
});
