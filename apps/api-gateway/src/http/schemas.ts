import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { MAX_FREEZE_REASON_LENGTH } from '@bank/accounts-core';
import { CURRENCY_SCALES, EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, MAX_CURSOR_LENGTH, ROLES, type Currency } from '@bank/kernel';
import { MAX_API_AMOUNT, MAX_DEPOSIT_REFERENCE_LENGTH, MAX_DESCRIPTION_LENGTH } from '@bank/payments-core';
import { PROBLEM_CODES } from './problem';

// `.openapi(...)` on every zod type: names a schema as an OpenAPI component and adds what JSON
// Schema cannot say (descriptions, examples). Done once, here, before any schema is built.
extendZodWithOpenApi(z);

/**
 * The public API's schemas (API.md), one zod schema per body, query and answer. They validate
 * requests (input.ts), type the handlers and the views, and generate the OpenAPI document
 * (openapi.ts); limits come from the services' own named constants, so none is kept twice.
 */

/** The longest free-text field that no service limits more tightly (tokens, passwords, phone). */
export const MAX_STRING_FIELD = 1_000;
/** The largest amount a JSON number carries exactly; money in requests never exceeds it. */
const MAX_JSON_AMOUNT = Number(MAX_API_AMOUNT);

const CURRENCIES = Object.keys(CURRENCY_SCALES) as [Currency, ...Currency[]];

export const Uuid = z.guid().openapi({ format: 'uuid', example: '0192f5e4-7b1c-7cc3-9a43-5c1f0e6a7b10' });
const Timestamp = z.iso.datetime().openapi({ example: '2026-01-31T12:00:00.000Z' });
/** PostgreSQL text cannot hold U+0000: such a field would fail deep inside a service, or its consumer. */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this refuses.
const NO_NUL = /^[^\u0000]*$/;
const noNul = () => z.string().regex(NO_NUL, { error: 'must not contain U+0000' });
const text = (max: number, min = 0) => noNul().min(min).max(max);
/**
 * Measured as the services measure it: after trimming, which they do before they store it. A
 * required one must hold more than blanks, which the document says as a pattern (JSON Schema
 * cannot say "after trimming").
 */
const trimmed = (max: number, min = 0) =>
  // eslint-disable-next-line no-control-regex -- U+0000 is exactly what this refuses.
  (min > 0 ? z.string().regex(/^[^\u0000]*[^\s\u0000][^\u0000]*$/, { error: 'must not be blank or contain U+0000' }) : noNul()).trim().min(min).max(max);

export const CurrencySchema = z.enum(CURRENCIES).openapi('Currency', { description: 'An ISO 4217 code the bank supports. Another one is 400 UNSUPPORTED_CURRENCY when it is the only bad field, else VALIDATION_FAILED naming each.' });

/** Money in a request: a JSON integer of minor units, never a string or a fraction, never 0. */
export const AmountSchema = z
  .number()
  .int()
  .min(1)
  .max(MAX_JSON_AMOUNT)
  .openapi('Amount', { description: 'Minor units of the currency (1050 = 10.50 USD), a JSON safe integer.', example: 1050 });
const amountIn = AmountSchema.transform((n) => BigInt(n));

/**
 * A balance or running total in an answer. The ledger keeps 64-bit sums, which can exceed what a
 * JSON number carries exactly (2^53); such a value is sent as a string of its decimal digits rather
 * than rounded, so a client never reads a wrong amount. Within ±(2^53 − 1) it is always a number.
 */
export const SignedAmountSchema = z
  .union([z.number().int().min(-MAX_JSON_AMOUNT).max(MAX_JSON_AMOUNT), z.string().regex(/^-?\d{16,19}$/)])
  .openapi('SignedAmount', {
    description: 'Minor units; a JSON integer within ±(2^53 − 1), else (only a 64-bit ledger total can be that large) the exact value as a string of digits.',
  });

export const FieldErrorSchema = z.object({ field: z.string().openapi({ example: 'amount' }), message: z.string() }).openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.url().openapi({ example: 'https://bank.example/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.enum(Object.keys(PROBLEM_CODES) as [keyof typeof PROBLEM_CODES, ...(keyof typeof PROBLEM_CODES)[]]).openapi({ description: 'Stable machine code.' }),
    errors: z.array(FieldErrorSchema).optional().openapi({ description: 'For invalid input: one entry per bad field.' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details. `code` is for programs; `title` and `detail` are for people.' });

// Requests. Strict objects: an unknown or read-only field is refused, never ignored.

export const SignupRequest = z
  .strictObject({
    email: trimmed(EMAIL_MAX_LENGTH, 1).openapi({ description: 'Any letter case; kept lower-cased.', example: 'ada@example.com' }),
    password: text(MAX_STRING_FIELD, 1).openapi({ description: '10 to 72 bytes of UTF-8, else 400 WEAK_PASSWORD.', writeOnly: true }),
    fullName: trimmed(FULL_NAME_MAX_LENGTH, 1).openapi({ example: 'Ada Lovelace' }),
  })
  .openapi('SignupRequest');

export const LoginRequest = z
  .strictObject({ email: trimmed(EMAIL_MAX_LENGTH, 1), password: text(MAX_STRING_FIELD, 1).openapi({ writeOnly: true }) })
  .openapi('LoginRequest');

export const RefreshRequest = z.strictObject({ refreshToken: text(MAX_STRING_FIELD, 1).openapi({ writeOnly: true }) }).openapi('RefreshRequest');

export const UpdateProfileRequest = z
  .strictObject({
    fullName: trimmed(FULL_NAME_MAX_LENGTH, 1).optional(),
    phone: text(MAX_STRING_FIELD).optional().openapi({ description: 'E.164, e.g. +447700900123.' }),
  })
  .openapi('UpdateProfileRequest');

export const OpenAccountRequest = z.strictObject({ currency: CurrencySchema }).openapi('OpenAccountRequest');

export const CreatePaymentRequest = z
  .strictObject({
    sourceAccountId: Uuid,
    destinationAccountId: Uuid,
    amount: amountIn,
    currency: CurrencySchema,
    description: text(MAX_DESCRIPTION_LENGTH).optional(),
  })
  .openapi('CreatePaymentRequest');

export const DepositRequest = z
  .strictObject({ accountId: Uuid, amount: amountIn, currency: CurrencySchema, reference: text(MAX_DEPOSIT_REFERENCE_LENGTH, 1) })
  .openapi('DepositRequest');

export const FreezeRequest = z.strictObject({ reason: trimmed(MAX_FREEZE_REASON_LENGTH, 1) }).openapi('FreezeRequest');

/** The body of a POST that takes none: absent, or an empty object. */
export const NoBody = z.strictObject({});

// Path and query.

export const IdParams = z.object({ id: Uuid.transform((id) => id.toLowerCase()).openapi({ description: 'A UUID; malformed: 400; unknown or not yours: 404.' }) });

/** `?limit=` as digits only: `0x10`, `1e2` or ` 5` are not a page size, whatever Number() makes of them. */
const PAGE_LIMIT_PATTERN = /^\d{1,3}$/;
const limitMessage = `must be 1 to ${LIST_MAX_LIMIT}`;

export const PageQuery = z.object({
  limit: z
    .string()
    .regex(PAGE_LIMIT_PATTERN, { error: limitMessage })
    .transform(Number)
    .pipe(z.number().int().min(1).max(LIST_MAX_LIMIT))
    .optional()
    .default(LIST_DEFAULT_LIMIT)
    .openapi({ type: 'integer', minimum: 1, maximum: LIST_MAX_LIMIT, default: LIST_DEFAULT_LIMIT }),
  cursor: text(MAX_CURSOR_LENGTH).optional().openapi({ description: 'The `nextCursor` of the previous page.' }),
});

export const PaymentListQuery = PageQuery.extend({ accountId: Uuid.openapi({ description: 'Payments from or to this account (yours).' }) });

// Answers.

export const SignupResponse = z.object({ userId: Uuid, email: z.string() }).openapi('SignupResponse');

export const TokenPairSchema = z
  .object({
    accessToken: z.string().openapi({ description: 'JWT; send as `Authorization: Bearer <accessToken>`.' }),
    refreshToken: z.string().openapi({ description: 'Single use: each refresh returns a new one.' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().min(1).openapi({ description: 'Seconds until the access token expires.' }),
  })
  .openapi('TokenPair');

export const JwksSchema = z
  .object({ keys: z.array(z.object({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string(), n: z.string(), e: z.string() })) })
  .openapi('Jwks', { description: 'RFC 7517 JSON Web Key Set: the public keys that verify access tokens.' });

export const ProfileSchema = z
  .object({ id: Uuid, email: z.string(), fullName: z.string(), phone: z.string().nullable(), roles: z.array(z.enum(ROLES)), createdAt: Timestamp })
  .openapi('Profile');

export const AccountSchema = z
  .object({
    id: Uuid,
    ownerId: Uuid,
    currency: CurrencySchema,
    status: z.enum(['active', 'frozen', 'closed']),
    balance: z
      .object({
        posted: SignedAmountSchema.openapi({ description: 'Credits posted minus debits posted.' }),
        pending: SignedAmountSchema.openapi({ description: 'Debits on hold.' }),
        available: SignedAmountSchema.openapi({ description: 'posted − pending (plus any overdraft limit).' }),
      })
      .openapi('Balance'),
    createdAt: Timestamp,
  })
  .openapi('Account');

export const EntrySchema = z
  .object({
    id: z.string().openapi({ description: 'The line\'s own id: its transfer id and the side it is on (`:D` debit, `:C` credit).', example: '39b1e048-b4a0-532e-a793-4e199293478a:D' }),
    transferId: Uuid,
    paymentId: Uuid.nullable(),
    direction: z.enum(['debit', 'credit']),
    amount: SignedAmountSchema,
    currency: CurrencySchema,
    balanceAfter: SignedAmountSchema.openapi({ description: 'The posted balance right after the entry took effect.' }),
    status: z.enum(['pending', 'posted', 'voided']),
    description: z.string(),
    createdAt: Timestamp,
  })
  .openapi('Entry', { description: 'One statement line. A hold and its outcome are one entry: `pending`, then `posted` or `voided`.' });

export const PaymentSchema = z
  .object({
    id: Uuid,
    sourceAccountId: Uuid,
    destinationAccountId: Uuid,
    amount: AmountSchema,
    currency: CurrencySchema,
    description: z.string(),
    status: z.enum(['pending', 'completed', 'failed', 'cancelled']),
    failureCode: z.string().nullable().openapi({ examples: ['INSUFFICIENT_FUNDS', 'ACCOUNT_FROZEN', 'ACCOUNT_CLOSED', 'LIMIT_EXCEEDED'] }),
    createdAt: Timestamp,
    completedAt: Timestamp.nullable(),
  })
  .openapi('Payment');

export const TimelineSchema = z
  .object({
    payment: PaymentSchema,
    events: z.array(
      z.object({
        at: Timestamp,
        source: z.enum(['payment-service', 'transaction-service', 'notification-service']),
        kind: z.string().openapi({ examples: ['step.hold_placed', 'transfer.capture', 'event.payment.completed', 'event.published', 'email.payment_sent', 'unavailable'] }),
        detail: z.string(),
      }),
    ),
  })
  .openapi('PaymentTimeline', { description: "The payment's saga steps, ledger transfers, outbox events and their publication, and emails, in time order." });

export const DepositSchema = z.object({ id: Uuid, accountId: Uuid, amount: AmountSchema, currency: CurrencySchema, status: z.literal('completed') }).openapi('Deposit');

const Cursor = z.string().nullable().openapi('Cursor', { description: 'Pass as `cursor` for the next page; null on the last page.' });
const listOf = <T extends z.ZodType>(item: T, name: string) => z.object({ data: z.array(item), nextCursor: Cursor }).openapi(name);
export const AccountList = listOf(AccountSchema, 'AccountList');
export const EntryList = listOf(EntrySchema, 'EntryList');
export const PaymentList = listOf(PaymentSchema, 'PaymentList');

export const OpenApiDocumentSchema = z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }).openapi('OpenApiDocument');
export const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');
/** The public readiness answer: whether to send traffic here, and nothing about what is behind it. */
export const ReadinessSchema = z.object({ status: z.enum(['ready', 'not-ready']) }).openapi('Readiness');

export type AccountBody = z.output<typeof AccountSchema>;
export type EntryBody = z.output<typeof EntrySchema>;
export type PaymentBody = z.output<typeof PaymentSchema>;
export type DepositBody = z.output<typeof DepositSchema>;
export type ProfileBody = z.output<typeof ProfileSchema>;
export type JwksBody = z.output<typeof JwksSchema>;
