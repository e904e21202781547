import { tracing } from './tracing';
import { serviceMain } from '@bank/platform';
import { paymentsMigrations } from '@bank/payments-postgres';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

serviceMain(SERVICE_NAME, { databaseUrlVar: 'PAYMENT_DATABASE_URL', grpcPortVar: 'PAYMENT_GRPC_PORT', migrations: paymentsMigrations, container: () => buildContainer(loadServiceConfig()), flush: tracing.shutdown });
