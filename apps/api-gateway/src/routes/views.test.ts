import { ledgerV1, userV1 } from '@bank/contracts';
import { accountView, entryView } from './views';

// What a peer answers is shown only as far as the gateway understands it: a status or direction it
// does not know fails the response (500) instead of being shown as active, posted or credit.

const account = (status: number): userV1.BankAccount => userV1.BankAccount.fromPartial({ id: 'a', ownerId: 'o', currency: 'USD', status, createdAt: new Date() });
const entry = (patch: Partial<ledgerV1.StatementEntry>): ledgerV1.StatementEntry =>
  ledgerV1.StatementEntry.fromPartial({ id: 'e', transferId: 't', direction: ledgerV1.EntryDirection.ENTRY_DIRECTION_DEBIT, status: ledgerV1.EntryStatus.ENTRY_STATUS_PENDING, amount: 5n, balanceAfter: 5n, currency: 'USD', createdAt: new Date(), ...patch });

describe('views of peer answers', () => {
  it('names the statuses and directions it knows', () => {
    expect(accountView(account(userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN), undefined).status).toBe('frozen');
    expect(entryView(entry({})).status).toBe('pending');
    expect(entryView(entry({ direction: ledgerV1.EntryDirection.ENTRY_DIRECTION_CREDIT })).direction).toBe('credit');
  });

  it('refuses to guess an unknown or unspecified one', () => {
    expect(() => accountView(account(0), undefined)).toThrow('unknown account status 0');
    expect(() => accountView(account(99), undefined)).toThrow('unknown account status 99');
    expect(() => entryView(entry({ status: 0 }))).toThrow('unknown entry status 0');
    expect(() => entryView(entry({ direction: 0 }))).toThrow('unknown entry direction 0');
  });
});

describe('amounts in answers', () => {
  it('are JSON integers while exact, and exact strings of digits beyond 2^53 (never rounded, never a 500)', () => {
    const big = 2n ** 62n;
    const withBalance = (posted: bigint) => accountView(account(userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE), ledgerV1.Account.fromPartial({ id: 'a', balance: { posted, pending: 0n, available: posted } }));
    expect(withBalance(BigInt(Number.MAX_SAFE_INTEGER)).balance.posted).toBe(Number.MAX_SAFE_INTEGER);
    expect(withBalance(-BigInt(Number.MAX_SAFE_INTEGER)).balance.posted).toBe(-Number.MAX_SAFE_INTEGER);
    expect(withBalance(2n ** 53n).balance.posted).toBe('9007199254740992');
    expect(withBalance(-(2n ** 53n)).balance.posted).toBe('-9007199254740992');
    expect(withBalance(big).balance).toEqual({ posted: '4611686018427387904', pending: 0, available: '4611686018427387904' });
    expect(withBalance(-big).balance.posted).toBe('-4611686018427387904');
    expect(entryView(entry({ amount: big, balanceAfter: big })).balanceAfter).toBe('4611686018427387904');
  });
});
