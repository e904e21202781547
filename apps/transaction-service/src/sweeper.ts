import { EXPIRY_BATCH_SIZE, type Ledger } from '@bank/ledger-core';
import type { Logger, Running } from '@bank/platform';

/**
 * Voids holds whose timeout passed: the ledger's last line of defence, so no hold lives forever
 * even when the payment saga that placed it has died.
 */
export function startHoldExpirySweeper(ledger: Ledger, intervalMs: number, logger: Logger): Running {
  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  const sweep = async () => {
    try {
      let expired = 0;
      for (let n = EXPIRY_BATCH_SIZE; n === EXPIRY_BATCH_SIZE && !stopped; ) {
        n = await ledger.expireDueHolds(EXPIRY_BATCH_SIZE);
        expired += n;
      }
      if (expired > 0) logger.info({ expired }, 'expired holds voided');
    } catch (err) {
      logger.error({ err }, 'hold expiry sweep failed; will retry');
    }
  };
  const timer = setInterval(() => {
    current = current.then(sweep);
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
