import { EntitySchema } from '@mikro-orm/core';
import type { TemplateData, TemplateName } from './templates';

// MikroORM entity schemas of the notification database: plain rows, no decorators. Column names
// follow MikroORM's underscore naming strategy, so they match migration 0001 as written.

/** Who an email goes to, kept from user.registered. */
export interface RecipientRow {
  userId: string;
  email: string;
  fullName: string;
}

export const RecipientSchema = new EntitySchema<RecipientRow>({
  name: 'RecipientRow',
  tableName: 'recipients',
  properties: {
    userId: { type: 'uuid', primary: true },
    email: { type: 'text' },
    fullName: { type: 'text' },
  },
});

/** Whose an account is, kept from account.opened: account events name the account only. */
export interface AccountOwnerRow {
  accountId: string;
  ownerId: string;
}

export const AccountOwnerSchema = new EntitySchema<AccountOwnerRow>({
  name: 'AccountOwnerRow',
  tableName: 'account_owners',
  properties: {
    accountId: { type: 'uuid', primary: true },
    ownerId: { type: 'uuid' },
  },
});

export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'dead';

/** One email: its recipient and content, and how sending it went. */
export interface DeliveryRow {
  id: string;
  eventId: string;
  userId: string;
  template: TemplateName;
  email: string;
  data: TemplateData;
  status: DeliveryStatus;
  attempts: number;
  error: string | null;
  claimedAt: Date | null;
  enqueuedAt: Date | null;
  messageId: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** W3C traceparent of the trace the email was queued in ('' when tracing is off). */
  traceparent: string;
}

export const DeliverySchema = new EntitySchema<DeliveryRow>({
  name: 'DeliveryRow',
  tableName: 'deliveries',
  properties: {
    id: { type: 'uuid', primary: true },
    eventId: { type: 'uuid' },
    userId: { type: 'uuid' },
    template: { type: 'text' },
    email: { type: 'text' },
    data: { type: 'json', columnType: 'jsonb' },
    status: { type: 'text' },
    attempts: { type: 'integer' },
    error: { type: 'text', nullable: true },
    claimedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    enqueuedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    messageId: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    sentAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    traceparent: { type: 'text', default: '' },
  },
});

export const NOTIFICATION_ENTITIES = [RecipientSchema, AccountOwnerSchema, DeliverySchema] as const;
