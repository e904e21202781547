import { tracing } from './tracing';
import { serviceMain } from '@bank/platform';
import { authMigrations } from './migrations';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

serviceMain(SERVICE_NAME, { databaseUrlVar: 'AUTH_DATABASE_URL', grpcPortVar: 'AUTH_GRPC_PORT', migrations: authMigrations, container: () => buildContainer(loadServiceConfig()), flush: tracing.shutdown });
