import { runService, type Logger, type StartedService } from '@bank/platform';
import { loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer, TYPES } from './container';

const container = buildContainer(loadServiceConfig());
void runService(SERVICE_NAME, container.get<Logger>(TYPES.Logger), container.get<() => Promise<StartedService>>(TYPES.Start));
