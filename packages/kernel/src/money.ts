import { DomainError } from './errors';

/** The ISO 4217 currencies this bank supports, with their minor-unit scale (digits after the point). */
export const CURRENCY_SCALES = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  JPY: 0,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  KWD: 3,
} as const;

export type Currency = keyof typeof CURRENCY_SCALES;

/** Symbols written before an amount for people (Money.display); others are written with their code. */
const CURRENCY_SYMBOLS: Partial<Record<Currency, string>> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };

/** Postgres `bigint` bounds: an amount outside them could not be stored, so arithmetic refuses it. */
export const MAX_MINOR_UNITS = 2n ** 63n - 1n;
export const MIN_MINOR_UNITS = -(2n ** 63n);

export function isCurrency(code: unknown): code is Currency {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CURRENCY_SCALES, code);
}

export function parseCurrency(code: unknown): Currency {
  if (!isCurrency(code)) {
    throw new DomainError('UNSUPPORTED_CURRENCY', `unsupported currency: ${String(code)}`);
  }
  return code;
}

function checkRange(minor: bigint): bigint {
  if (minor > MAX_MINOR_UNITS || minor < MIN_MINOR_UNITS) {
    throw new DomainError('AMOUNT_OVERFLOW', 'amount does not fit a 64-bit signed integer of minor units');
  }
  return minor;
}

/**
 * An amount of one currency in minor units (cents for USD, yen for JPY). Immutable; every operation
 * refuses mixed currencies and results outside the Postgres bigint range instead of wrapping.
 */
export class Money {
  private constructor(
    readonly minor: bigint,
    readonly currency: Currency,
  ) {}

  static of(minor: bigint | number, currency: Currency | string): Money {
    const cur = parseCurrency(currency);
    if (typeof minor === 'number') {
      if (!Number.isSafeInteger(minor)) {
        throw new DomainError('INVALID_AMOUNT', 'amount must be a safe integer of minor units');
      }
      return new Money(checkRange(BigInt(minor)), cur);
    }
    return new Money(checkRange(minor), cur);
  }

  static zero(currency: Currency | string): Money {
    return Money.of(0n, currency);
  }

  /** Parses a decimal string ("10.50", "-3", "0.5") in major units into minor units, exactly. */
  static parse(text: string, currency: Currency | string): Money {
    const cur = parseCurrency(currency);
    const scale = CURRENCY_SCALES[cur];
    const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text.trim());
    if (!match) throw new DomainError('INVALID_AMOUNT', `not a decimal amount: ${text}`);
    const [, sign, whole = '0', fraction = ''] = match;
    if (fraction.length > scale) {
      throw new DomainError('INVALID_AMOUNT', `${cur} has ${scale} decimal places; got ${fraction.length}`);
    }
    const minor = BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, '0') || '0');
    return Money.of(sign ? -minor : minor, cur);
  }

  /** Formats in major units with exactly the currency's scale ("10.50", "-0.05", "1000" for JPY). */
  format(): string {
    const scale = CURRENCY_SCALES[this.currency];
    const negative = this.minor < 0n;
    const abs = negative ? -this.minor : this.minor;
    if (scale === 0) return `${negative ? '-' : ''}${abs}`;
    const digits = abs.toString().padStart(scale + 1, '0');
    return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }

  toString(): string {
    return `${this.format()} ${this.currency}`;
  }

  /**
   * For people: the currency's symbol and the major units grouped by thousands ("$10.50",
   * "¥1,050", "-€3.00"); a currency without a symbol here is written with its code ("CHF 10.50").
   * Computed on the digits, never through a float.
   */
  display(): string {
    const plain = this.format();
    const negative = plain.startsWith('-');
    const [whole = '0', fraction] = (negative ? plain.slice(1) : plain).split('.');
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const symbol = CURRENCY_SYMBOLS[this.currency];
    const number = fraction === undefined ? grouped : `${grouped}.${fraction}`;
    return `${negative ? '-' : ''}${symbol ?? `${this.currency} `}${number}`;
  }

  add(other: Money): Money {
    this.sameCurrency(other);
    return new Money(checkRange(this.minor + other.minor), this.currency);
  }

  subtract(other: Money): Money {
    this.sameCurrency(other);
    return new Money(checkRange(this.minor - other.minor), this.currency);
  }

  negate(): Money {
    return new Money(checkRange(-this.minor), this.currency);
  }

  compare(other: Money): -1 | 0 | 1 {
    this.sameCurrency(other);
    return this.minor < other.minor ? -1 : this.minor > other.minor ? 1 : 0;
  }

  equals(other: Money): boolean {
    return this.currency === other.currency && this.minor === other.minor;
  }

  isZero(): boolean {
    return this.minor === 0n;
  }

  isPositive(): boolean {
    return this.minor > 0n;
  }

  isNegative(): boolean {
    return this.minor < 0n;
  }

  /** The JSON edge form: a safe integer of minor units. Amounts beyond 2^53 cannot leave as JSON numbers. */
  toJSONNumber(): number {
    if (this.minor > BigInt(Number.MAX_SAFE_INTEGER) || this.minor < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DomainError('AMOUNT_OVERFLOW', 'amount exceeds the JSON safe-integer range');
    }
    return Number(this.minor);
  }

  private sameCurrency(other: Money): void {
    if (other.currency !== this.currency) {
      throw new DomainError('CURRENCY_MISMATCH', `cannot combine ${this.currency} with ${other.currency}`);
    }
  }
}
