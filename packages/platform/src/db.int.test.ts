import { InvariantViolation } from '@bank/kernel';
import { captureLogger, createTestDatabase } from '@bank/testkit';
import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { Database, type Persistence } from './db';

// The unit of work: what is built on a transaction's scope joins that transaction, so stores a
// consumer's use case calls commit or roll back with the event's inbox row; a joined call is a
// savepoint, so one that fails and is caught does not abort the caller's transaction.

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
/** A store as the adapters write them: it knows only the Persistence it is given. */
const noteStore = (p: Persistence) => ({
  add: (id: number) => p.transaction((c) => c.query('INSERT INTO notes VALUES ($1)', [id])),
  addRaw: (id: number) => p.sql.query('INSERT INTO notes VALUES ($1)', [id]),
});

describe('Database units of work', () => {
  beforeEach(() => db.sql.query('TRUNCATE notes'));

  it("a store built on a transaction's scope joins it: its writes roll back with the caller's failure", async () => {
    await expect(
      db.transaction(async (c, _em, tx) => {
        await c.query('INSERT INTO notes VALUES (1)');
        await noteStore(tx).add(2);
        await noteStore(tx).addRaw(3);
        throw new Error('fails after every write');
      }),
    ).rejects.toThrow('fails after every write');
    expect(await notes()).toEqual([]);
  });

  it('commits what the joined calls wrote together with the caller', async () => {
    await db.transaction(async (_c, _em, tx) => {
      await noteStore(tx).add(1);
      await noteStore(tx).addRaw(2);
    });
    expect(await notes()).toEqual([1, 2]);
  });

  it("a joined call that fails rolls back to its savepoint; the caller's transaction goes on and commits", async () => {
    await db.transaction(async (_c, _em, tx) => {
      await noteStore(tx).add(1);
      await expect(noteStore(tx).add(1)).rejects.toMatchObject({ code: '23505' });
      await noteStore(tx).add(2);
    });
    expect(await notes()).toEqual([1, 2]);
  });

  it('refuses to join at another isolation level', async () => {
    await expect(db.transaction((_c, _em, tx) => tx.transaction(async () => undefined, 'SERIALIZABLE'))).rejects.toThrow(InvariantViolation);
  });

  it('a store built on the database itself stays outside: its write commits on its own', async () => {
    await expect(
      db.transaction(async () => {
        await noteStore(db).add(1);
        throw new Error('the caller fails');
      }),
    ).rejects.toThrow('the caller fails');
    expect(await notes()).toEqual([1]);
  });
});

describe('Database migrations', () => {
  class First extends Migration {
    override async up(): Promise<void> {
      this.addSql('CREATE TABLE first_table (id integer PRIMARY KEY)');
    }
  }
  class Second extends Migration {
    override async up(): Promise<void> {
      this.addSql('CREATE TABLE second_table (id integer PRIMARY KEY)');
    }
  }
  const first = { name: '0001_first', class: First };
  const second = { name: '0002_second', class: Second };

  it('applies what is pending at each start, and nothing when everything is applied', async () => {
    const t = await createTestDatabase('platform_migrate');
    const open = (migrations: MigrationObject[]) => Database.open({ clientUrl: t.url, migrations, logger });
    try {
      let d = await open([first]);
      expect(await d.migrate()).toEqual(['0001_first']);
      expect(await d.migrate()).toEqual([]);
      await d.close();
      // A release with a new migration: only that one runs.
      d = await open([first, second]);
      expect(await d.migrate()).toEqual(['0002_second']);
      await d.close();
      d = await open([first, second]);
      expect(await d.migrate()).toEqual([]);
      expect(await d.migrations()).toEqual({ applied: ['0001_first', '0002_second'], pending: [] });
      const { rows } = await d.sql.query<{ n: string }>("SELECT count(*)::text AS n FROM information_schema.tables WHERE table_name IN ('first_table', 'second_table')");
      expect(rows[0]?.n).toBe('2');
      await d.close();
    } finally {
      await t.drop();
    }
  });
});

describe('Database sessions', () => {
  it('are ended by PostgreSQL when a transaction sits idle past idleInTransactionTimeoutMs, releasing its locks', async () => {
    const t = await createTestDatabase('platform_idle_tx');
    const d = await Database.open({ clientUrl: t.url, migrations: [], logger, idleInTransactionTimeoutMs: 300 });
    try {
      await d.sql.query('CREATE TABLE held (id integer PRIMARY KEY)');
      await d.sql.query('INSERT INTO held VALUES (1)');
      const paused = d.transaction(async (c) => {
        await c.query('SELECT 1 FROM held WHERE id = 1 FOR UPDATE');
        await new Promise((r) => setTimeout(r, 1_000));
        await c.query('SELECT 1');
      });
      // Past the limit, while the paused one still sleeps: its row lock went with its session.
      await new Promise((r) => setTimeout(r, 600));
      await d.transaction(async (c) => {
        await c.query("SET LOCAL lock_timeout = '200ms'");
        await c.query('SELECT 1 FROM held WHERE id = 1 FOR UPDATE');
      });
      await expect(paused).rejects.toThrow();
    } finally {
      await d.close();
      await t.drop();
    }
  });
});
