import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@bank/platform';

/**
 * How long a stopping gateway lets in-flight requests finish before cutting their connections.
 * It is shorter than the platform's SHUTDOWN_TIMEOUT_MS, which must still cover closing Redis.
 */
export const HTTP_SHUTDOWN_GRACE_MS = 10_000;
/** A whole request, including a `Prefer: wait=30` payment, must fit in this. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** Slowloris guard: the headers of a request must have arrived within this. */
export const HEADERS_TIMEOUT_MS = 15_000;
/**
 * Longer than the idle timeout of common load balancers (60 s), so that the balancer, not the
 * gateway, closes an idle connection; otherwise a request can race the close and get a 502.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface RunningHttpServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, cuts what is left after the grace period. */
  stop(graceMs?: number): Promise<void>;
}

function closeGracefully(server: Server, graceMs: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      logger.warn({ graceMs }, 'in-flight requests outlived the grace period; closing their connections');
      server.closeAllConnections();
    }, graceMs);
    timer.unref();
    // close() stops accepting and calls back once every connection has ended; idle keep-alive
    // connections would otherwise hold it open for up to KEEP_ALIVE_TIMEOUT_MS.
    server.close((err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startHttpServer(handler: RequestListener, opts: { host: string; port: number; logger: Logger }): Promise<RunningHttpServer> {
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    port,
    url: `http://${host}:${port}`,
    stop: (graceMs = HTTP_SHUTDOWN_GRACE_MS) => closeGracefully(server, graceMs, opts.logger),
  };
}
