import { request } from 'node:http';
import { captureLogger } from '@bank/testkit';
import { startHttpServer } from './server';

const { logger, lines } = captureLogger('http-server-test');

/** A GET on its own connection (no shared keep-alive pool), resolving to the status or the error code. */
function get(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('startHttpServer', () => {
  it('lets in-flight requests finish on stop, then refuses new connections', async () => {
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (arrived = r));
    const server = await startHttpServer(
      (_req, res) => {
        arrived();
        release = () => res.end('done');
      },
      { host: '127.0.0.1', port: 0, logger },
    );
    const slow = get(`${server.url}/slow`);
    await inFlight;
    const stopped = server.stop(5_000);
    expect(await get(`${server.url}/new`)).toBe('ECONNREFUSED');
    release();
    expect(await slow).toBe(200);
    await stopped;
  });

  it('cuts requests that outlive the grace period', async () => {
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (arrived = r));
    const server = await startHttpServer(() => arrived(), { host: '127.0.0.1', port: 0, logger });
    const stuck = get(`${server.url}/stuck`);
    await inFlight;
    const startedMs = Date.now();
    await server.stop(200);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
    expect(await stuck).toBe('ECONNRESET');
    expect(lines.some((l) => l.includes('outlived the grace period'))).toBe(true);
  });
});
