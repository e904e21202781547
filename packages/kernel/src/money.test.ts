import { DomainError, MAX_MINOR_UNITS, Money, MIN_MINOR_UNITS, ManualClock, deterministicId, isUuid, newId } from './index';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof DomainError ? e.code : `not a DomainError: ${String(e)}`;
  }
  return undefined;
}

describe('Money', () => {
  it('adds and subtracts minor units exactly', () => {
    const a = Money.of(1050n, 'USD');
    expect(a.add(Money.of(1, 'USD')).minor).toBe(1051n);
    expect(a.subtract(Money.of(2000n, 'USD')).minor).toBe(-950n);
    // 0.1 + 0.2 in float is 0.30000000000000004; in minor units it is exact.
    expect(Money.parse('0.10', 'USD').add(Money.parse('0.20', 'USD')).format()).toBe('0.30');
  });

  it('refuses to mix currencies', () => {
    expect(codeOf(() => Money.of(1n, 'USD').add(Money.of(1n, 'EUR')))).toBe('CURRENCY_MISMATCH');
    expect(codeOf(() => Money.of(1n, 'USD').compare(Money.of(1n, 'GBP')))).toBe('CURRENCY_MISMATCH');
  });

  it('refuses overflow past the Postgres bigint range instead of wrapping', () => {
    const max = Money.of(MAX_MINOR_UNITS, 'USD');
    expect(codeOf(() => max.add(Money.of(1n, 'USD')))).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => Money.of(MIN_MINOR_UNITS, 'USD').subtract(Money.of(1n, 'USD')))).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => Money.of(MIN_MINOR_UNITS, 'USD').negate())).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => Money.of(MAX_MINOR_UNITS + 1n, 'USD'))).toBe('AMOUNT_OVERFLOW');
    expect(max.subtract(Money.of(1n, 'USD')).minor).toBe(MAX_MINOR_UNITS - 1n);
  });

  it('refuses unsafe or fractional JavaScript numbers', () => {
    expect(codeOf(() => Money.of(10.5, 'USD'))).toBe('INVALID_AMOUNT');
    expect(codeOf(() => Money.of(2 ** 53, 'USD'))).toBe('INVALID_AMOUNT');
    expect(codeOf(() => Money.of(Number.NaN, 'USD'))).toBe('INVALID_AMOUNT');
  });

  it('refuses unknown currencies', () => {
    expect(codeOf(() => Money.of(1n, 'XYZ'))).toBe('UNSUPPORTED_CURRENCY');
    expect(codeOf(() => Money.of(1n, 'usd'))).toBe('UNSUPPORTED_CURRENCY');
  });

  it.each([
    ['10.50', 'USD', 1050n],
    ['10.5', 'USD', 1050n],
    ['10', 'USD', 1000n],
    ['0.01', 'EUR', 1n],
    ['-3.07', 'GBP', -307n],
    ['1000', 'JPY', 1000n],
    ['1.234', 'KWD', 1234n],
    ['92233720368547758.07', 'USD', MAX_MINOR_UNITS],
  ] as const)('parses %s %s as %s minor units', (text, currency, minor) => {
    expect(Money.parse(text, currency).minor).toBe(minor);
  });

  it.each([
    ['10.505', 'USD', 'INVALID_AMOUNT'],
    ['1.5', 'JPY', 'INVALID_AMOUNT'],
    ['1e3', 'USD', 'INVALID_AMOUNT'],
    ['', 'USD', 'INVALID_AMOUNT'],
    ['abc', 'USD', 'INVALID_AMOUNT'],
    ['92233720368547758.08', 'USD', 'AMOUNT_OVERFLOW'],
  ] as const)('rejects %j %s with %s', (text, currency, code) => {
    expect(codeOf(() => Money.parse(text, currency))).toBe(code);
  });

  it.each([
    [1050n, 'USD', '10.50'],
    [5n, 'USD', '0.05'],
    [-5n, 'EUR', '-0.05'],
    [0n, 'GBP', '0.00'],
    [1000n, 'JPY', '1000'],
    [1n, 'KWD', '0.001'],
  ] as const)('formats %s %s as %s', (minor, currency, text) => {
    expect(Money.of(minor, currency).format()).toBe(text);
  });

  it('round-trips format and parse', () => {
    for (const minor of [0n, 1n, 99n, 100n, 123456789n, -42n, MAX_MINOR_UNITS]) {
      const m = Money.of(minor, 'USD');
      expect(Money.parse(m.format(), 'USD').equals(m)).toBe(true);
    }
  });

  it('leaves JSON only as a safe integer', () => {
    expect(Money.of(1050n, 'USD').toJSONNumber()).toBe(1050);
    expect(codeOf(() => Money.of(2n ** 53n, 'USD').toJSONNumber())).toBe('AMOUNT_OVERFLOW');
  });
});

describe('ids and clock', () => {
  it('makes time-ordered v7 UUIDs', () => {
    const a = newId(1_000);
    const b = newId(2_000);
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe('7');
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newId())).size).toBe(1000);
  });

  it('derives the same v5 UUID from the same name, and different ones from different names', () => {
    const a = deterministicId('system-account', 'USD:settlement');
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe('5');
    expect(deterministicId('system-account', 'USD:settlement')).toBe(a);
    expect(deterministicId('system-account', 'EUR:settlement')).not.toBe(a);
    expect(deterministicId('other', 'USD:settlement')).not.toBe(a);
  });

  it('moves a manual clock only when told', () => {
    const clock = new ManualClock(0);
    expect(clock.now().getTime()).toBe(0);
    clock.advance(1500);
    expect(clock.now().getTime()).toBe(1500);
  });
});

describe('Money.display', () => {
  it('writes amounts for people per currency, from minor units, with thousands grouped', () => {
    expect(Money.of(1050n, 'USD').display()).toBe('$10.50');
    expect(Money.of(1050n, 'JPY').display()).toBe('¥1,050');
    expect(Money.of(123456789n, 'EUR').display()).toBe('€1,234,567.89');
    expect(Money.of(-5n, 'GBP').display()).toBe('-£0.05');
    expect(Money.of(1234567n, 'KWD').display()).toBe('KWD 1,234.567');
    expect(Money.of(9007199254740993n, 'USD').display()).toBe('$90,071,992,547,409.93');
  });
});
