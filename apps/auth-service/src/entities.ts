import { ArrayType, EntitySchema } from '@mikro-orm/core';
import type { PublicJwk } from './signing';

// MikroORM entity schemas of the auth database: plain rows, no decorators. Column names follow
// MikroORM's underscore naming strategy, so they match migration 0001 as written.

export interface UserRow {
  id: string;
  email: string;
  passwordHash: string;
  fullName: string;
  roles: string[];
  failedLogins: number;
  lastFailedAt: Date | null;
  createdAt: Date;
}

export const UserSchema = new EntitySchema<UserRow>({
  name: 'UserRow',
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    email: { type: 'text' },
    passwordHash: { type: 'text' },
    fullName: { type: 'text' },
    roles: { type: ArrayType, columnType: 'text[]' },
    failedLogins: { type: 'integer' },
    lastFailedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export type RefreshTokenStatus = 'active' | 'used' | 'revoked';

export interface RefreshTokenRow {
  id: string;
  familyId: string;
  userId: string;
  /** SHA-256 of the token: only the hash is stored, so a leaked table hands out no session. */
  tokenHash: Buffer;
  status: RefreshTokenStatus;
  expiresAt: Date;
  createdAt: Date;
}

export const RefreshTokenSchema = new EntitySchema<RefreshTokenRow>({
  name: 'RefreshTokenRow',
  tableName: 'refresh_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    familyId: { type: 'uuid' },
    userId: { type: 'uuid' },
    tokenHash: { type: 'blob', columnType: 'bytea' },
    status: { type: 'text' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

export interface SigningKeyRow {
  kid: string;
  privatePem: string;
  publicJwk: PublicJwk;
  createdAt: Date;
  retiredAt: Date | null;
}

export const SigningKeySchema = new EntitySchema<SigningKeyRow>({
  name: 'SigningKeyRow',
  tableName: 'signing_keys',
  properties: {
    kid: { type: 'text', primary: true },
    privatePem: { type: 'text' },
    publicJwk: { type: 'json', columnType: 'jsonb' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    retiredAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});

export interface LoginFailuresByIpRow {
  ip: string;
  windowStart: Date;
  failures: number;
}

export const LoginFailuresByIpSchema = new EntitySchema<LoginFailuresByIpRow>({
  name: 'LoginFailuresByIpRow',
  tableName: 'login_failures_by_ip',
  properties: {
    ip: { type: 'text', primary: true },
    windowStart: { type: 'Date', columnType: 'timestamptz' },
    failures: { type: 'integer' },
  },
});

export const AUTH_ENTITIES = [UserSchema, RefreshTokenSchema, SigningKeySchema, LoginFailuresByIpSchema] as const;
