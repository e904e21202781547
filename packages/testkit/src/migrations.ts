import type { MigrationObject } from '@mikro-orm/core';
import { Database } from '@bank/platform';
import { captureLogger, createTestDatabase } from './infra';

/**
 * What a schema consists of, by kind, name and definition: tables and their columns, indexes,
 * constraints, triggers, sequences, functions and types. What a full revert must leave nothing
 * of, and what applying again must rebuild exactly.
 */
async function schemaObjects(db: Database): Promise<string[]> {
  const { rows } = await db.sql.query<{ object: string }>(
    `SELECT 'table ' || tablename AS object FROM pg_tables WHERE schemaname = 'public'
     UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
       FROM information_schema.columns WHERE table_schema = 'public'
     UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
     UNION ALL SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
     UNION ALL SELECT 'trigger ' || t.tgrelid::regclass || ' ' || t.tgname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
       WHERE n.nspname = 'public' AND NOT t.tgisinternal
     UNION ALL SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public'
     UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
     UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
     ORDER BY 1`,
  );
  return rows.map((r) => r.object);
}

/** MikroORM's own bookkeeping, the one thing a full revert keeps. */
const isMigrationBookkeeping = (object: string): boolean => /schema_migrations/.test(object);

/**
 * The reversibility suite of a service's migrations, as `bank-cli migrate down` relies on it: on
 * an empty database and on one `populate` has filled, every migration reverts one step at a time,
 * newest first, until nothing of the schema is left, and the whole list then applies again.
 */
export function migrationsReversibleContract(label: string, migrations: readonly MigrationObject[], populate: (db: Database) => Promise<void>): void {
  const { logger } = captureLogger(`${label}-migrations`);
  const names = migrations.map((m) => m.name);

  async function revertAll(db: Database): Promise<void> {
    for (const name of [...names].reverse()) {
      expect(await db.migrateDown(1)).toEqual([name]);
      expect((await db.migrations()).pending[0]).toBe(name);
    }
    expect(await db.migrateDown(1)).toEqual([]);
    const left = await schemaObjects(db);
    expect(left.filter((o) => !isMigrationBookkeeping(o))).toEqual([]);
    expect(left).toContain('table schema_migrations');
  }

  for (const populated of [false, true]) {
    it(`revert one at a time to nothing and apply again, on ${populated ? 'a populated' : 'an empty'} database`, async () => {
      const t = await createTestDatabase(`${label}_migrate_down_${populated ? 'full' : 'empty'}`);
      const db = await Database.open({ clientUrl: t.url, migrations, logger });
      try {
        expect(await db.migrate()).toEqual(names);
        const schema = await schemaObjects(db);
        if (populated) await populate(db);
        await revertAll(db);
        expect(await db.migrate()).toEqual(names);
        expect(await schemaObjects(db)).toEqual(schema);
        expect(await db.migrations()).toEqual({ applied: names, pending: [] });
      } finally {
        await db.close();
        await t.drop();
      }
    });
  }
}
