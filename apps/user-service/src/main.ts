import { tracing } from './tracing';
import { serviceMain } from '@bank/platform';
import { accountsMigrations } from '@bank/accounts-postgres';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

serviceMain(SERVICE_NAME, { databaseUrlVar: 'USER_DATABASE_URL', grpcPortVar: 'USER_GRPC_PORT', migrations: accountsMigrations, container: () => buildContainer(loadServiceConfig()), flush: tracing.shutdown });
