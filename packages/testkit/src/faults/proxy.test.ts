import net from 'node:net';
import { startFaultProxy } from './proxy';

// The fault proxy against a real echo server on loopback: what each mode does to the bytes.

let echo: net.Server;
let port: number;

beforeAll(async () => {
  echo = net.createServer((s) => {
    // The proxy's reset mode cuts connections: the echo side sees ECONNRESET, which is expected.
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  port = (echo.address() as net.AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

/** Sends `text` through the proxy and resolves with what came back within `waitMs`, and how long it took. */
function roundTrip(proxyPort: number, text: string, waitMs: number): Promise<{ got: string; ms: number; closed: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let got = '';
    let closed = false;
    const s = net.connect(proxyPort, '127.0.0.1', () => s.write(text));
    s.on('data', (c) => {
      got += c.toString();
      if (got.length >= text.length) finish();
    });
    s.on('error', () => (closed = true));
    s.on('close', () => {
      closed = true;
      finish();
    });
    const timer = setTimeout(finish, waitMs);
    function finish() {
      clearTimeout(timer);
      s.destroy();
      resolve({ got, ms: Date.now() - started, closed });
    }
  });
}

describe('the fault proxy', () => {
  it('passes, delays, blackholes, resets and throttles, switched while it runs', async () => {
    const proxy = await startFaultProxy({ host: '127.0.0.1', port });
    try {
      expect((await roundTrip(proxy.port, 'hello', 1_000)).got).toBe('hello');
      proxy.set({ kind: 'latency', ms: 300 });
      const slow = await roundTrip(proxy.port, 'slow', 2_000);
      expect(slow.got).toBe('slow');
      // Both ways: at least twice the delay.
      expect(slow.ms).toBeGreaterThanOrEqual(580);
      proxy.set({ kind: 'blackhole' });
      const hole = await roundTrip(proxy.port, 'lost', 500);
      expect([hole.got, hole.closed]).toEqual(['', false]);
      proxy.set({ kind: 'reset' });
      expect((await roundTrip(proxy.port, 'refused', 1_000)).closed).toBe(true);
      proxy.set({ kind: 'bandwidth', bytesPerSecond: 2_000 });
      const text = 'x'.repeat(1_000);
      const throttled = await roundTrip(proxy.port, text, 5_000);
      expect(throttled.got).toBe(text);
      expect(throttled.ms).toBeGreaterThanOrEqual(400);
      proxy.set({ kind: 'pass' });
      expect((await roundTrip(proxy.port, 'back', 1_000)).got).toBe('back');
      expect(proxy.accepted()).toBe(6);
    } finally {
      await proxy.close();
    }
  });
});
