import { Container } from 'inversify';
import { Accounts } from '@bank/accounts-core';
import { PostgresAccountStore, accountsMigrations } from '@bank/accounts-postgres';
import { systemClock } from '@bank/kernel';
import { createLogger, type EventHandlers, type Logger, type StartedService, startServiceRuntime, TYPES } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { userGrpcService } from './grpc';
import { GrpcLedgerBalances } from './ledger-balances';

/** What user-service does with the events routed to it (contracts' EVENT_CATALOGUE). */
export function userEventHandlers(accounts: Pick<Accounts, 'createProfile'>): EventHandlers {
  return {
    // The store joins the consumer's transaction: the profile and the inbox row commit together.
    'user.registered': (p) => accounts.createProfile(p.userId, p.email, p.fullName),
  };
}

/** The composition root of user-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(logger);
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (log: Logger) => async () => {
      const ledger = new GrpcLedgerBalances(config.LEDGER_GRPC_ADDR, config.SERVICE_TOKEN);
      let accounts: Accounts | undefined;
      const accountsOf = (db: ConstructorParameters<typeof PostgresAccountStore>[0]) => (accounts ??= new Accounts(new PostgresAccountStore(db), ledger, systemClock));
      const started = await startServiceRuntime({
        name: SERVICE_NAME,
        logger: log,
        databaseUrl: config.USER_DATABASE_URL,
        migrations: accountsMigrations,
        grpc: { host: config.BIND_HOST, port: config.USER_GRPC_PORT },
        queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
        services: (db) => [userGrpcService(accountsOf(db), { serviceToken: config.SERVICE_TOKEN, logger: log })],
        // The profile is written in the inbox's transaction, so it and the inbox row commit together.
        consumer: { name: 'user-service', handlers: (db) => userEventHandlers(accountsOf(db)) },
      });
      return {
        ...started,
        async stop() {
          await started.stop();
          ledger.close();
        },
      };
    },
    [TYPES.Logger],
  );
  return container;
}
