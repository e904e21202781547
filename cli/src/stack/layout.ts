import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS } from '@bank/contracts';

/**
 * The repository root. This file compiles to cli/dist/stack/layout.js, three levels below it;
 * the apps are started from their build output there, wherever the command is run from.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Where the local stack keeps its data unless BANK_DATA_DIR says otherwise (git-ignored). */
export const DEFAULT_DATA_DIR = path.join(REPO_ROOT, '.data');

export function dataDirFrom(env: NodeJS.ProcessEnv): string {
  const configured = env.BANK_DATA_DIR;
  return configured !== undefined && configured !== '' ? path.resolve(configured) : DEFAULT_DATA_DIR;
}

/** The folder of the local stack's certificates inside the data directory (`bank-cli up` makes it). */
export const TLS_SUBDIR = 'tls';

/** Where the workloads' certificates are: BANK_TLS_DIR, else the local stack's in the data directory. */
export function tlsDirFrom(env: NodeJS.ProcessEnv): string {
  const configured = env.BANK_TLS_DIR;
  return configured !== undefined && configured !== '' ? path.resolve(configured) : path.join(dataDirFrom(env), TLS_SUBDIR);
}

/** The environment-variable prefix of each gRPC service (AUTH_DATABASE_URL, AUTH_GRPC_PORT, ...). */
export type ServicePrefix = 'AUTH' | 'USER' | 'LEDGER' | 'PAYMENT' | 'NOTIFICATION';

export interface GrpcServiceDef {
  /** The directory under apps/, also the name its output lines carry. */
  readonly name: string;
  readonly prefix: ServicePrefix;
  /** The port its config.ts defaults to; the stack takes the next free one when it is taken. */
  readonly defaultPort: number;
  /** The database it gets on the embedded PostgreSQL. */
  readonly database: string;
  /** Its metrics port by default (GET /metrics); likewise the next free one when taken. */
  readonly defaultMetricsPort: number;
}

/** The five gRPC services, in the order they are started and listed. */
export const GRPC_SERVICES: readonly GrpcServiceDef[] = [
  { name: 'auth-service', prefix: 'AUTH', defaultPort: DEFAULT_GRPC_PORTS['auth-service'], database: 'bank_auth', defaultMetricsPort: DEFAULT_METRICS_PORTS['auth-service'] },
  { name: 'user-service', prefix: 'USER', defaultPort: DEFAULT_GRPC_PORTS['user-service'], database: 'bank_user', defaultMetricsPort: DEFAULT_METRICS_PORTS['user-service'] },
  { name: 'transaction-service', prefix: 'LEDGER', defaultPort: DEFAULT_GRPC_PORTS['transaction-service'], database: 'bank_ledger', defaultMetricsPort: DEFAULT_METRICS_PORTS['transaction-service'] },
  { name: 'payment-service', prefix: 'PAYMENT', defaultPort: DEFAULT_GRPC_PORTS['payment-service'], database: 'bank_payment', defaultMetricsPort: DEFAULT_METRICS_PORTS['payment-service'] },
  { name: 'notification-service', prefix: 'NOTIFICATION', defaultPort: DEFAULT_GRPC_PORTS['notification-service'], database: 'bank_notification', defaultMetricsPort: DEFAULT_METRICS_PORTS['notification-service'] },
];

export const GATEWAY = {
  name: 'api-gateway',
  portVar: 'GATEWAY_PORT',
  defaultPort: 8080,
  readinessPath: '/readyz',
  docsPath: '/docs',
  // The operations port (metrics, readiness with detail), Prometheus's customary exporter port.
  opsPortVar: 'GATEWAY_OPS_PORT',
  defaultOpsPort: 9464,
  metricsPath: '/metrics',
} as const;

export const databaseUrlVar = (prefix: ServicePrefix): string => `${prefix}_DATABASE_URL`;
export const grpcPortVar = (prefix: ServicePrefix): string => `${prefix}_GRPC_PORT`;
export const grpcAddrVar = (prefix: ServicePrefix): string => `${prefix}_GRPC_ADDR`;
export const metricsPortVar = (prefix: ServicePrefix): string => `${prefix}_METRICS_PORT`;

/** The compiled entry point of an app, as `npx tsc -b` writes it. */
export function appEntry(name: string): string {
  return path.join(REPO_ROOT, 'apps', name, 'dist', 'main.js');
}

/** The apps whose build output is missing, relative to the repository root. */
export function missingEntries(names: readonly string[]): string[] {
  return names.map(appEntry).filter((entry) => !existsSync(entry)).map((entry) => path.relative(REPO_ROOT, entry));
}
