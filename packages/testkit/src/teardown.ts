import { dropQueueNamespace } from '@bank/platform';
import { TEST_REDIS_NAMESPACE, TEST_REDIS_URL } from './infra';

/**
 * Jest's global teardown: after a whole run, drop the Redis keys every suite made under the test
 * namespace (queues, delivery counters, rate-limit counters), so the test Redis does not grow
 * from run to run.
 */
export default async function teardown(): Promise<void> {
  await dropQueueNamespace({ redisUrl: TEST_REDIS_URL, prefix: TEST_REDIS_NAMESPACE });
}
