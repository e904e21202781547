import { newId } from '@bank/kernel';
import type { AccountDirectory, AccountInfo } from '@bank/payments-core';

/** Where the directory under test asks for accounts it has not recorded: user-service, in production. */
export type DirectorySource = (id: string) => Promise<AccountInfo | undefined>;

const account = (patch: Partial<AccountInfo> = {}): AccountInfo => ({ id: newId(), ownerId: newId(), currency: 'USD', state: 'active', ...patch });

/**
 * The AccountDirectory port's contract, run against the in-memory fake and the PostgreSQL
 * projection alike: what the saga relies on when it checks a payment's accounts.
 */
export function accountDirectoryContract(name: string, open: (source: DirectorySource) => Promise<AccountDirectory>, close: () => Promise<void>): void {
  describe(`AccountDirectory contract: ${name}`, () => {
    const upstream = new Map<string, AccountInfo>();
    const asked: string[] = [];
    let directory: AccountDirectory;

    beforeAll(async () => {
      directory = await open(async (id) => {
        asked.push(id);
        return upstream.get(id);
      });
    });
    afterAll(close);

    it('finds recorded accounts, leaves out unknown ones, and answers nothing for no ids', async () => {
      const a = account();
      const b = account({ currency: 'EUR' });
      await directory.recordOpened(a);
      await directory.recordOpened(b);
      const found = await directory.find([a.id, newId(), b.id]);
      expect([...found.values()].sort((x, y) => x.id.localeCompare(y.id))).toEqual([a, b].sort((x, y) => x.id.localeCompare(y.id)));
      expect((await directory.find([])).size).toBe(0);
    });

    it('asks the source for an account it has not recorded, once, and remembers it', async () => {
      const frozen = account({ state: 'frozen' });
      upstream.set(frozen.id, frozen);
      expect((await directory.find([frozen.id])).get(frozen.id)).toEqual(frozen);
      upstream.delete(frozen.id);
      expect((await directory.find([frozen.id])).get(frozen.id)).toEqual(frozen);
      expect(asked.filter((id) => id === frozen.id)).toHaveLength(1);
      // Any event still applies over what the look-up brought (it carries no sequence).
      expect(await directory.recordState(frozen.id, 'active', 1)).toBe(true);
      expect((await directory.find([frozen.id])).get(frozen.id)?.state).toBe('active');
    });

    it('applies state changes in sequence order: a late older event does not undo a newer one', async () => {
      const a = account();
      await directory.recordOpened(a);
      expect(await directory.recordState(a.id, 'closed', 3)).toBe(true);
      expect(await directory.recordState(a.id, 'frozen', 2)).toBe(true);
      expect((await directory.find([a.id])).get(a.id)?.state).toBe('closed');
      // A redelivered account.opened does not reopen it either.
      await directory.recordOpened(a);
      expect((await directory.find([a.id])).get(a.id)).toEqual({ ...a, state: 'closed' });
    });

    it('says when an account whose state changed is not known yet, and records nothing for it', async () => {
      const id = newId();
      expect(await directory.recordState(id, 'frozen', 1)).toBe(false);
      expect((await directory.find([id])).size).toBe(0);
    });
  });
}
