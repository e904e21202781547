import { tracing } from './tracing';
import { serviceMain } from '@bank/platform';
import { notificationMigrations } from './migrations';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

serviceMain(SERVICE_NAME, { databaseUrlVar: 'NOTIFICATION_DATABASE_URL', grpcPortVar: 'NOTIFICATION_GRPC_PORT', migrations: notificationMigrations, container: () => buildContainer(loadServiceConfig()), flush: tracing.shutdown });
