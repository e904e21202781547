import { KNOWN_ENV_VARS, loadConfig, type Running, TYPES } from '@bank/platform';
import { TEST_REDIS_URL, testQueuePrefix, TEST_TLS_DIR } from '@bank/testkit';
import { schema } from './config';
import { buildContainer } from './container';

describe('the composition root', () => {
  it('wires a gateway that starts on a free port and stops cleanly', async () => {
    const config = loadConfig(
      schema,
      { BANK_TLS_DIR: TEST_TLS_DIR, GATEWAY_PORT: '0', GATEWAY_OPS_PORT: '0', REDIS_URL: TEST_REDIS_URL, REDIS_QUEUE_PREFIX: testQueuePrefix('api-gateway-root'), LOG_LEVEL: 'silent' },
      KNOWN_ENV_VARS,
    );
    const start = buildContainer(config).get<() => Promise<Running>>(TYPES.Start);
    const running = await start();
    await running.stop();
  });
});
