import type { Container } from 'inversify';
import { Accounts, type AccountStore, type LedgerBalances } from '@bank/accounts-core';
import { ACCOUNT_ENTITIES, PostgresAccountStore, accountsMigrations } from '@bank/accounts-postgres';
import type { Clock } from '@bank/kernel';
import { ServiceRuntime, TYPES, createLogger, serviceContainer, type EventHandlers, type Logger, type Persistence, type StartedService, authTokenVerifier, loadIdentity } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { userGrpcService } from './grpc';
import { GrpcLedgerBalances } from './ledger-balances';

const ACCOUNT_STORE = Symbol.for('AccountStore');
const LEDGER_BALANCES = Symbol.for('LedgerBalances');
const ACCOUNTS = Symbol.for('Accounts');

/** What user-service does with the events routed to it (contracts' EVENT_CATALOGUE). */
export function userEventHandlers(accountsIn: (tx: Persistence) => Pick<Accounts, 'createProfile'>): EventHandlers {
  return {
    // On a store that joins the consumer's transaction: the profile and the inbox row commit together.
    'user.registered': (p, _e, tx) => accountsIn(tx).createProfile(p.userId, p.email, p.fullName),
  };
}

/** The composition root of user-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const container = serviceContainer(config, {
    metricsPort: config.USER_METRICS_PORT,
    metricsHost: config.BIND_HOST,
    name: SERVICE_NAME,
    identity,
    logger,
    databaseUrl: config.USER_DATABASE_URL,
    migrations: accountsMigrations,
    entities: ACCOUNT_ENTITIES,
    queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
  });
  container.bind<AccountStore>(ACCOUNT_STORE).toResolvedValue((runtime: ServiceRuntime) => new PostgresAccountStore(runtime.db), [TYPES.Runtime]).inSingletonScope();
  container.bind<GrpcLedgerBalances>(LEDGER_BALANCES).toResolvedValue(() => new GrpcLedgerBalances(config.LEDGER_GRPC_ADDR, identity), []).inSingletonScope();
  container
    .bind<Accounts>(ACCOUNTS)
    .toResolvedValue((store: AccountStore, ledger: LedgerBalances, clock: Clock) => new Accounts(store, ledger, clock), [ACCOUNT_STORE, LEDGER_BALANCES, TYPES.Clock])
    .inSingletonScope();
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (runtime: ServiceRuntime, accounts: Accounts, ledger: GrpcLedgerBalances, clock: Clock) => () =>
      runtime.start(async () => {
        const tokens = authTokenVerifier(config, identity);
        return {
          grpc: { host: config.BIND_HOST, port: config.USER_GRPC_PORT },
          services: [userGrpcService(accounts, { logger, verifier: tokens.verifier })],
          consumer: { name: 'user-service', handlers: userEventHandlers((tx) => new Accounts(new PostgresAccountStore(tx), ledger, clock)) },
          close: () => {
            ledger.close();
            tokens.close();
          },
        };
      }),
    [TYPES.Runtime, ACCOUNTS, LEDGER_BALANCES, TYPES.Clock],
  );
  return container;
}
