import { BigIntType, EntitySchema } from '@mikro-orm/core';

// MikroORM entity schemas of the payments database: plain rows, no decorators, mapped to the
// core's types by the store. Column names follow MikroORM's underscore naming strategy.

export interface PaymentRow {
  id: string;
  initiatorId: string;
  sourceAccountId: string;
  destinationAccountId: string;
  destinationOwnerId: string;
  amount: bigint;
  currency: string;
  description: string;
  status: string;
  failureCode: string | null;
  step: string;
  stepTimes: Record<string, string>;
  attempts: number;
  deadlineAt: Date;
  holdExpiresAt: Date | null;
  cancelRequested: boolean;
  createdAt: Date;
  completedAt: Date | null;
  version: number;
}

export const PaymentSchema = new EntitySchema<PaymentRow>({
  name: 'PaymentRow',
  tableName: 'payments',
  properties: {
    id: { type: 'uuid', primary: true },
    initiatorId: { type: 'uuid' },
    sourceAccountId: { type: 'uuid' },
    destinationAccountId: { type: 'uuid' },
    destinationOwnerId: { type: 'uuid' },
    amount: { type: new BigIntType('bigint') },
    currency: { type: 'string', columnType: 'char(3)' },
    description: { type: 'text' },
    status: { type: 'string' },
    failureCode: { type: 'string', nullable: true },
    step: { type: 'string' },
    stepTimes: { type: 'json' },
    attempts: { type: 'integer' },
    deadlineAt: { type: 'Date', columnType: 'timestamptz' },
    holdExpiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    cancelRequested: { type: 'boolean' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    completedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    version: { type: 'integer', version: true },
  },
});

export interface IdempotencyRow {
  userId: string;
  scope: string;
  key: string;
  fingerprint: string;
  resourceId: string;
  responseStatus: number | null;
  responseBody: unknown;
  lockedUntil: Date;
  createdAt: Date;
}

export const IdempotencySchema = new EntitySchema<IdempotencyRow>({
  name: 'IdempotencyRow',
  tableName: 'idempotency_records',
  properties: {
    userId: { type: 'uuid', primary: true },
    scope: { type: 'string', primary: true },
    key: { type: 'text', primary: true },
    fingerprint: { type: 'text' },
    resourceId: { type: 'uuid' },
    responseStatus: { type: 'integer', nullable: true },
    responseBody: { type: 'json', nullable: true },
    lockedUntil: { type: 'Date', columnType: 'timestamptz' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export interface DepositRow {
  id: string;
  operatorId: string;
  accountId: string;
  ownerId: string;
  amount: bigint;
  currency: string;
  reference: string;
  status: string;
  failureCode: string | null;
  createdAt: Date;
}

export const DepositSchema = new EntitySchema<DepositRow>({
  name: 'DepositRow',
  tableName: 'deposits',
  properties: {
    id: { type: 'uuid', primary: true },
    operatorId: { type: 'uuid' },
    accountId: { type: 'uuid' },
    ownerId: { type: 'uuid' },
    amount: { type: new BigIntType('bigint') },
    currency: { type: 'string', columnType: 'char(3)' },
    reference: { type: 'text' },
    status: { type: 'string' },
    failureCode: { type: 'string', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export interface PaymentAccountRow {
  id: string;
  ownerId: string;
  currency: string;
  state: string;
  stateVersion: bigint;
}

export const PaymentAccountSchema = new EntitySchema<PaymentAccountRow>({
  name: 'PaymentAccountRow',
  tableName: 'payment_accounts',
  properties: {
    id: { type: 'uuid', primary: true },
    ownerId: { type: 'uuid' },
    currency: { type: 'string', columnType: 'char(3)' },
    state: { type: 'string' },
    stateVersion: { type: new BigIntType('bigint') },
  },
});

export const PAYMENT_ENTITIES = [PaymentSchema, IdempotencySchema, DepositSchema, PaymentAccountSchema] as const;
