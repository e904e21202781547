import { tracing } from './tracing';
import { serviceMain } from '@bank/platform';
import { ledgerMigrations } from '@bank/ledger-postgres';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

serviceMain(SERVICE_NAME, { databaseUrlVar: 'LEDGER_DATABASE_URL', grpcPortVar: 'LEDGER_GRPC_PORT', migrations: ledgerMigrations, container: () => buildContainer(loadServiceConfig()), flush: tracing.shutdown });
