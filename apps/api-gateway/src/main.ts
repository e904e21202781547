import { tracing } from './tracing';
import { type Logger, type Running, runService, startContainer, TYPES } from '@bank/platform';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

const container = buildContainer(loadServiceConfig());
void runService(SERVICE_NAME, container.get<Logger>(TYPES.Logger), () => startContainer<Running>(container), tracing.shutdown);
