import { newId } from '@bank/kernel';
import { freeze, openAccount, type AccountStore } from '@bank/accounts-core';

/** What every AccountStore must do, run against the fake and the Postgres adapter alike. */
export function accountStoreContract(name: string, open: () => Promise<{ store: AccountStore; events(): Promise<string[]> }>, close: () => Promise<void>): void {
  describe(`AccountStore contract: ${name}`, () => {
    let store: AccountStore;
    let events: () => Promise<string[]>;
    const now = new Date(Date.UTC(2026, 0, 1));

    beforeAll(async () => {
      ({ store, events } = await open());
    });
    afterAll(close);

    it('saves an opened account with its event, and reads it back', async () => {
      const change = openAccount(newId(), newId(), 'EUR', now);
      expect(await store.save(change, { expectedVersion: null })).toBe(true);
      expect(await store.get(change.account.id)).toEqual(change.account);
      expect(await events()).toContain(`account.opened:${change.account.id}`);
      expect(await store.save(change, { expectedVersion: null })).toBe(false);
    });

    it('finds a retried opening by owner and key, and refuses a second account under the same key', async () => {
      const owner = newId();
      const first = openAccount(newId(), owner, 'USD', now);
      expect(await store.save(first, { expectedVersion: null, openKey: 'k-1' })).toBe(true);
      expect(await store.save(openAccount(newId(), owner, 'USD', now), { expectedVersion: null, openKey: 'k-1' })).toBe(false);
      expect((await store.findByOpenKey(owner, 'k-1'))?.id).toBe(first.account.id);
      expect(await store.findByOpenKey(newId(), 'k-1')).toBeUndefined();
    });

    it('refuses a transition from a stale version', async () => {
      const opened = openAccount(newId(), newId(), 'USD', now);
      await store.save(opened, { expectedVersion: null });
      const frozen = freeze(opened.account, 'fraud check');
      if (!frozen.ok) throw new Error(frozen.message);
      expect(await store.save(frozen.value, { expectedVersion: 1 })).toBe(true);
      expect(await store.save(frozen.value, { expectedVersion: 1 })).toBe(false);
      expect(await store.get(opened.account.id)).toMatchObject({ status: 'frozen', frozenReason: 'fraud check', version: 2 });
      expect(await events()).toContain(`account.frozen:${opened.account.id}`);
    });

    it('lists an owner’s accounts in pages', async () => {
      const owner = newId();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const c = openAccount(newId(), owner, 'GBP', now);
        ids.push(c.account.id);
        await store.save(c, { expectedVersion: null });
      }
      const first = await store.listByOwner(owner, 3, '');
      expect(first.accounts).toHaveLength(3);
      const second = await store.listByOwner(owner, 3, first.nextCursor);
      expect(second.nextCursor).toBe('');
      expect([...first.accounts, ...second.accounts].map((a) => a.id).sort()).toEqual(ids.sort());
    });

    it('creates a profile once and updates it', async () => {
      const id = newId();
      await store.createProfile({ id, email: 'a@example.com', fullName: 'Ada', phone: '', createdAt: now });
      await store.createProfile({ id, email: 'b@example.com', fullName: 'Bob', phone: '', createdAt: now });
      expect((await store.getProfile(id))?.fullName).toBe('Ada');
      await store.updateProfile({ id, email: 'a@example.com', fullName: 'Ada L.', phone: '+4915112345678', createdAt: now });
      expect(await store.getProfile(id)).toMatchObject({ fullName: 'Ada L.', phone: '+4915112345678', email: 'a@example.com' });
    });
  });
}
