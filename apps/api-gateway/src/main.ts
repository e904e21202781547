import { tracing } from './tracing';
import { type Logger, type Running, isHealthCommand, runService, startContainer, TYPES } from '@bank/platform';
import { DEFAULT_PORT, loadServiceConfig, SERVICE_NAME } from './config';
import { buildContainer } from './container';

/** A probe that gets no answer within this long counts as unhealthy. */
const HEALTH_TIMEOUT_MS = 3_000;

if (isHealthCommand()) {
  // `main.js health`: the container's probe, the gateway's own /healthz on its public port.
  const port = Number(process.env.GATEWAY_PORT || DEFAULT_PORT);
  fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }).then(
    (res) => process.exit(res.status === 200 ? 0 : 1),
    () => process.exit(1),
  );
} else {
  const container = buildContainer(loadServiceConfig());
  void runService(SERVICE_NAME, container.get<Logger>(TYPES.Logger), () => startContainer<Running>(container), tracing.shutdown);
}
