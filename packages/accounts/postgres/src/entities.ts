import { EntitySchema } from '@mikro-orm/core';

// MikroORM entity schemas of the accounts database: plain rows, no decorators, mapped to the
// core's types by the store. Column names follow MikroORM's underscore naming strategy.

export interface BankAccountRow {
  id: string;
  ownerId: string;
  currency: string;
  status: string;
  frozenReason: string | null;
  openKey: string | null;
  /** MikroORM's optimistic lock: a flush updates the row only at the version it was read with, and bumps it. */
  version: number;
  createdAt: Date;
}

export const BankAccountSchema = new EntitySchema<BankAccountRow>({
  name: 'BankAccountRow',
  tableName: 'bank_accounts',
  properties: {
    id: { type: 'uuid', primary: true },
    ownerId: { type: 'uuid' },
    currency: { type: 'string', columnType: 'char(3)' },
    status: { type: 'string' },
    frozenReason: { type: 'text', nullable: true },
    openKey: { type: 'text', nullable: true },
    version: { type: 'integer', version: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export interface ProfileRow {
  id: string;
  email: string;
  fullName: string;
  phone: string;
  createdAt: Date;
}

export const ProfileSchema = new EntitySchema<ProfileRow>({
  name: 'ProfileRow',
  tableName: 'profiles',
  properties: {
    id: { type: 'uuid', primary: true },
    email: { type: 'text' },
    fullName: { type: 'text' },
    phone: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export const ACCOUNT_ENTITIES = [BankAccountSchema, ProfileSchema] as const;
