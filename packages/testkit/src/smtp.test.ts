import net from 'node:net';
import { waitFor } from './infra';
import { startTestSmtp } from './smtp';

// The test SMTP server outlives a sender killed inside a transaction: the reset is recorded, not
// thrown (it once failed the fault harness's whole suite after every seed had passed).

it('records a sender that resets its connection in the middle of a message', async () => {
  const smtp = await startTestSmtp({});
  try {
    const sender = net.connect(smtp.port, '127.0.0.1');
    let said = '';
    sender.on('data', (c) => (said += c.toString()));
    sender.on('error', () => undefined);
    const expect250 = (n: number) => waitFor(async () => ((said.match(/^250[ ]/gm) ?? []).length >= n ? true : undefined), 5_000, 20);
    await waitFor(async () => (said.startsWith('220') ? true : undefined), 5_000, 20);
    sender.write('EHLO sender\r\n');
    await expect250(1);
    sender.write('MAIL FROM:<bank@example.test>\r\n');
    await expect250(2);
    sender.resetAndDestroy();
    await waitFor(async () => (smtp.errors.length > 0 ? true : undefined), 5_000, 20);
    expect(smtp.errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain('ECONNRESET');
  } finally {
    await smtp.close();
  }
});
