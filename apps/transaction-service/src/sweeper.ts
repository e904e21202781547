import type { Ledger } from '@bank/ledger-core';
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
      const expired = await ledger.expireAllDueHolds(Number.MAX_SAFE_INTEGER, () => !stopped);
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
