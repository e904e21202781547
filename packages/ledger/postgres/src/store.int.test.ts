import { Client } from 'pg';
import { ManualClock, newId } from '@bank/kernel';
import { BatchRefused, LEDGER_NOT_ACTIVE, Ledger, TransferFlags, systemAccountId } from '@bank/ledger-core';
import { Database } from '@bank/platform';
import { captureLogger, createTestDatabase, ledgerStoreContract, transferRequest, waitFor } from '@bank/testkit';
import { ledgerMigrations } from './migrations';
import { PostgresLedgerStore } from './store';

const { logger } = captureLogger('ledger-store-test');
let db: Database;
let drop: () => Promise<void>;

for (const [mode, pipelinedAttempts] of [['pipelined', undefined], ['locking', 0]] as const) {
  ledgerStoreContract(
    `PostgreSQL (${mode})`,
    async () => {
      const t = await createTestDatabase(`ledger_contract_${mode}`);
      drop = t.drop;
      db = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
      await db.migrate();
      return {
        store: new PostgresLedgerStore(db, { pipelinedAttempts }),
        reset: async () => {
          await db.transaction((c) => c.query('TRUNCATE ledger_accounts, transfers, pending_resolutions, open_holds, entries, outbox'));
        },
      };
    },
    async () => {
      await db.close();
      await drop();
    },
  );
}

/** A migrated ledger database of the test's own, dropped afterwards. */
async function withLedgerDatabase(name: string, test: (db: Database, url: string) => Promise<void>): Promise<void> {
  const t = await createTestDatabase(name);
  const ldb = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
  try {
    await ldb.migrate();
    await test(ldb, t.url);
  } finally {
    await ldb.close();
    await t.drop();
  }
}

/** A ledger over `db` with the USD system accounts; with 2 batches in flight they pipeline. */
async function ledgerOn(db: Database, maxInFlight: number): Promise<Ledger> {
  const ledger = new Ledger(new PostgresLedgerStore(db), new ManualClock(), { windowMs: 0, maxTransfers: 100, maxInFlight, maxQueuedTransfers: 10_000, defaultTimeoutSeconds: 60 });
  await ledger.ensureSystemAccounts(['USD']);
  return ledger;
}

describe('optimistic batches on PostgreSQL', () => {
  it('replay on the new state when an account they read changes before they write', async () => {
    await withLedgerDatabase('ledger_optimistic', async (odb, url) => {
      const other = new Client({ connectionString: url });
      try {
        await other.connect();
        const ledger = await ledgerOn(odb, 1);
        const [alice, bob] = [newId(), newId()];
        for (const id of [alice, bob]) await ledger.openCustomerAccount(id, 'USD', newId());
        await ledger.createTransfers([transferRequest({ debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: alice, amount: 100n })]);

        // Another writer (an operator's freeze through user-service's event) has changed alice and
        // not committed yet: the batch reads the old, active alice, and its write waits on the row.
        await other.query('BEGIN');
        await other.query("UPDATE ledger_accounts SET state = 'frozen', version = version + 1 WHERE id = $1", [alice]);
        const payment = ledger.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 30n })]);
        await waitFor(async () => (await other.query("SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'")).rowCount === 1);
        await other.query('COMMIT');

        // The write found alice changed, rolled back and replayed: the transfer meets the frozen account.
        expect(await payment).toEqual(['debit_account_frozen']);
        const [a] = await ledger.lookupAccounts([alice]);
        expect(a?.debitsPosted).toBe(0n);
        expect((await ledger.statement(alice, 10, '')).lines).toHaveLength(1);
        expect((await ledger.verify()).violations).toEqual([]);
      } finally {
        await other.end();
      }
    });
  });
});

describe('pipelined batches on PostgreSQL', () => {
  it('replay a batch decided on top of one that failed, so it never spends money that was not there', async () => {
    await withLedgerDatabase('ledger_pipelined', async (pdb) => {
      const ledger = await ledgerOn(pdb, 2);
      const [alice, bob] = [newId(), newId()];
      for (const id of [alice, bob]) await ledger.openCustomerAccount(id, 'USD', newId());
      const funding = transferRequest({ debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: alice, amount: 100n });
      expect(await ledger.createTransfers([funding, transferRequest({ debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: bob, amount: 1n })])).toEqual(['ok', 'ok']);

      // Open pool connections first, so that the second batch is decided before the first one's
      // write has come back (a cold pool would make it wait for a new connection instead).
      await Promise.all(Array.from({ length: 4 }, () => pdb.sql.query('SELECT pg_sleep(0.05)')));
      // The funding is sent again (a client retrying), and while it is in flight alice pays 150.
      // Decided on this process's view, the retry looks new and credits alice 100 more, and the
      // payment, decided on top of it, looks covered. The retry's write fails on the transfer's
      // primary key, the payment's on alice's version; both are replayed from the database.
      const [retry, payment] = await Promise.all([
        ledger.createTransfers([funding]),
        ledger.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 150n })]),
      ]);
      expect(retry).toEqual(['exists']);
      expect(payment).toEqual(['exceeds_credits']);
      const [a, b] = await ledger.lookupAccounts([alice, bob]);
      expect([a?.creditsPosted, a?.debitsPosted, b?.creditsPosted]).toEqual([100n, 0n, 1n]);
      expect((await ledger.verify()).violations).toEqual([]);
    });
  });
});

describe('pipelined batches keep the order of calls on an account', () => {
  it('answer a void racing the post of the same hold with already_posted, and a second spend of the same money with exceeds_credits', async () => {
    await withLedgerDatabase('ledger_pipeline_order', async (pdb) => {
      const ledger = await ledgerOn(pdb, 2);
      const [alice, bob, carol] = [newId(), newId(), newId()];
      for (const id of [alice, bob, carol]) await ledger.openCustomerAccount(id, 'USD', newId());
      const settlement = systemAccountId('USD', 'settlement');
      const hold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 100n, flags: TransferFlags.PENDING });
      expect(await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: alice, amount: 100n }), transferRequest({ debitAccountId: settlement, creditAccountId: carol, amount: 1n }), hold])).toEqual(['ok', 'ok', 'ok']);
      await Promise.all(Array.from({ length: 4 }, () => pdb.sql.query('SELECT pg_sleep(0.05)')));

      // The post and the void of one hold, sent together: the void is decided after the post.
      const [post, voided] = await Promise.all([
        ledger.createTransfers([transferRequest({ pendingId: hold.id, flags: TransferFlags.POST_PENDING })]),
        ledger.createTransfers([transferRequest({ pendingId: hold.id, flags: TransferFlags.VOID_PENDING })]),
      ]);
      expect(post).toEqual(['ok']);
      expect(voided).toEqual(['pending_transfer_already_posted']);

      // Bob has the 100 now; two calls spend it: the first one sent gets it.
      const [first, second] = await Promise.all([
        ledger.createTransfers([transferRequest({ debitAccountId: bob, creditAccountId: carol, amount: 100n })]),
        ledger.createTransfers([transferRequest({ debitAccountId: bob, creditAccountId: alice, amount: 100n })]),
      ]);
      expect([first, second]).toEqual([['ok'], ['exceeds_credits']]);
      const [b, c] = await ledger.lookupAccounts([bob, carol]);
      expect([b?.creditsPosted, b?.debitsPosted, c?.creditsPosted]).toEqual([100n, 100n, 101n]);
      expect((await ledger.verify()).violations).toEqual([]);
    });
  });
});

describe('two ledger instances on one database', () => {
  it('confirm a refusal against the database: what one remembers may be stale after the other wrote', async () => {
    await withLedgerDatabase('ledger_two_instances', async (dbA, url) => {
      const dbB = await Database.open({ clientUrl: url, migrations: ledgerMigrations, logger });
      try {
        const a = await ledgerOn(dbA, 2);
        const b = await ledgerOn(dbB, 2);
        const [alice, bob] = [newId(), newId()];
        for (const id of [alice, bob]) await a.openCustomerAccount(id, 'USD', newId());
        const settlement = systemAccountId('USD', 'settlement');
        // Instance A remembers alice and bob, with 1 on alice's account.
        expect(await a.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: bob, amount: 1n }), transferRequest({ debitAccountId: bob, creditAccountId: alice, amount: 1n })])).toEqual(['ok', 'ok']);
        // Instance B credits alice 100, and its client has its answer.
        expect(await b.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: alice, amount: 100n })])).toEqual(['ok']);
        // A's memory says alice cannot pay 50; the database says she can.
        expect(await a.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 50n })])).toEqual(['ok']);
        // And a payment A remembers as covered, but B has since spent the money for, is refused.
        expect(await b.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: settlement, amount: 50n })])).toEqual(['ok']);
        expect(await a.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 10n })])).toEqual(['exceeds_credits']);
        const [al] = await a.lookupAccounts([alice]);
        expect([al?.creditsPosted, al?.debitsPosted]).toEqual([101n, 100n]);
        expect((await a.verify()).violations).toEqual([]);
      } finally {
        await dbB.close();
      }
    });
  });
});

describe('a batch the database refuses', () => {
  it('fails only the call that carried the refused value; the calls batched with it are applied', async () => {
    await withLedgerDatabase('ledger_refused_batch', async (ldb) => {
      // A rule only the database knows stands in for a value the core let through by mistake.
      await ldb.transaction((c) => c.query("ALTER TABLE transfers ADD CONSTRAINT test_refuses_poison CHECK (reference <> 'poison')"));
      const store = new PostgresLedgerStore(ldb);
      let transactions = 0;
      const transact = store.transact.bind(store);
      store.transact = (footprint, decide) => {
        transactions++;
        return transact(footprint, decide);
      };
      // A window long enough that the concurrent calls below share one batch.
      const ledger = new Ledger(store, new ManualClock(), { windowMs: 50, maxTransfers: 100, maxInFlight: 1, maxQueuedTransfers: 10_000, defaultTimeoutSeconds: 60 });
      await ledger.ensureSystemAccounts(['USD']);
      const settlement = systemAccountId('USD', 'settlement');
      const accounts = Array.from({ length: 6 }, () => newId());
      for (const id of accounts) expect(await ledger.openCustomerAccount(id, 'USD', newId())).toBe('ok');
      transactions = 0;
      const calls = accounts.map((id, i) => ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: id, amount: 100n, reference: i === 2 ? 'poison' : `ok-${i}` })]));
      const settled = await Promise.allSettled(calls);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(BatchRefused);
      // One batch for all six, then one per call.
      expect(transactions).toBe(1 + accounts.length);
      const balances = new Map((await ledger.lookupAccounts(accounts)).map((a) => [a.id, a.creditsPosted]));
      expect(accounts.map((id) => balances.get(id))).toEqual([100n, 100n, 0n, 100n, 100n, 100n]);
      expect((await ledger.verify()).violations).toEqual([]);
    });
  });
});

describe('verify on PostgreSQL', () => {
  it('reports a ledger that was tampered with outside the application', async () => {
    await withLedgerDatabase('ledger_verify', async (vdb) => {
      const ledger = await ledgerOn(vdb, 1);
      const alice = newId();
      await ledger.openCustomerAccount(alice, 'USD', newId());
      const hold = newId();
      await ledger.createTransfers([
        { id: newId(), debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: alice, amount: 100n, currency: 'USD', flags: 0, pendingId: '', timeoutSeconds: 0, reference: '', description: '' },
        { id: hold, debitAccountId: alice, creditAccountId: systemAccountId('USD', 'fees'), amount: 10n, currency: 'USD', flags: 2, pendingId: '', timeoutSeconds: 0, reference: '', description: '' },
      ]);
      expect((await ledger.verify()).violations).toEqual([]);
      // Money created from nothing: a balance edited without an entry or a counterpart.
      await vdb.transaction((c) => c.query('UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1', [alice]));
      // A hold resolved twice.
      await vdb.transaction((c) => c.query(`INSERT INTO transfers SELECT gen_random_uuid(), debit_account_id, credit_account_id, 1, currency, 8, $1, 0, NULL, '', '', now() FROM transfers WHERE id = $1`, [hold]));
      await vdb.transaction((c) => c.query(`INSERT INTO transfers SELECT gen_random_uuid(), debit_account_id, credit_account_id, 1, currency, 4, $1, 0, NULL, '', '', now() FROM transfers WHERE id = $1`, [hold]));
      const found = new Set((await ledger.verify()).violations.map((v) => v.invariant));
      expect(found).toEqual(new Set(['debits_equal_credits', 'balance_equals_entries', 'single_resolution']));
      // Breaking the account's flag is refused by the database itself.
      await expect(vdb.transaction((c) => c.query('UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = $1', [alice]))).rejects.toMatchObject({ code: '23514' });
    });
  });
});

describe("the writer's fence", () => {
  it('refuses every write of a store whose lease token is no longer current, and a takeover waits for writes in flight', async () => {
    await withLedgerDatabase('ledger_fence', async (fdb, url) => {
      const setToken = (t: number) => fdb.sql.query('UPDATE ledger_lease SET token = $1', [t]);
      await setToken(1);
      const held = { token: 1n };
      const store = new PostgresLedgerStore(fdb, { fence: () => held.token });
      const ledger = new Ledger(store, new ManualClock(), { windowMs: 0, maxTransfers: 100, maxInFlight: 2, maxQueuedTransfers: 10_000, defaultTimeoutSeconds: 60 });
      await ledger.ensureSystemAccounts(['USD']);
      const a = newId();
      const b = newId();
      await ledger.createAccounts([a, b].map((id) => ({ id, currency: 'USD', kind: 'customer' as const, flags: 0, overdraftLimit: 0n, ownerId: null })));
      const pay = () => ledger.createTransfers([transferRequest({ id: newId(), debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: a, amount: 5n })]);
      expect((await pay())[0]).toBe('ok');

      // Another process took the lease (token 2): this one's batches, accounts and state changes are refused.
      await setToken(2);
      await expect(pay()).rejects.toMatchObject({ code: LEDGER_NOT_ACTIVE });
      await expect(ledger.createAccounts([{ id: newId(), currency: 'USD', kind: 'customer', flags: 0, overdraftLimit: 0n, ownerId: null }])).rejects.toMatchObject({ code: LEDGER_NOT_ACTIVE });
      await expect(store.setAccountState(b, 'frozen', 5n)).rejects.toMatchObject({ code: LEDGER_NOT_ACTIVE });
      const [count] = (await fdb.sql.query<{ n: string }>("SELECT count(*)::text AS n FROM transfers WHERE amount = 5")).rows;
      expect(count?.n).toBe('1');

      // Holding the current token again, it writes. A write in flight holds the fence's lock until
      // it commits: the holder's renewal (expires_at) passes it, a takeover (FOR UPDATE, as the
      // lease takes it) waits for it, and the former holder's next write is refused.
      held.token = 2n;
      expect((await pay())[0]).toBe('ok');
      const inFlight = new Client({ connectionString: url });
      const taker = new Client({ connectionString: url });
      await inFlight.connect();
      await taker.connect();
      try {
        await inFlight.query('BEGIN');
        await inFlight.query('SELECT ledger_fence(2)');
        await taker.query("SET lock_timeout = '2s'");
        await taker.query("UPDATE ledger_lease SET expires_at = now() + interval '3 seconds' WHERE id = 1 AND token = 2");
        let taken = false;
        const takeover = (async () => {
          await taker.query('BEGIN');
          await taker.query('SELECT 1 FROM ledger_lease WHERE id = 1 FOR UPDATE');
          await taker.query('UPDATE ledger_lease SET token = 3 WHERE id = 1');
          await taker.query('COMMIT');
          taken = true;
        })();
        await new Promise((r) => setTimeout(r, 300));
        expect(taken).toBe(false);
        await inFlight.query('COMMIT');
        await takeover;
        expect(taken).toBe(true);
        await expect(pay()).rejects.toMatchObject({ code: LEDGER_NOT_ACTIVE });
      } finally {
        await inFlight.end();
        await taker.end();
      }
    });
  });
});
