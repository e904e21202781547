import net from 'node:net';

/**
 * What the proxy does to the bytes between a client and its upstream:
 * - pass: forwards them;
 * - latency: delays each chunk by `ms` in both directions (ordering kept);
 * - blackhole: accepts connections and reads, forwards nothing, answers nothing (a partition:
 *   the peer's deadlines, not a refusal, end the calls);
 * - reset: destroys every open connection and each new one at once (RST-like refusals);
 * - bandwidth: forwards at most `bytesPerSecond` each way per connection.
 */
export type FaultMode = { readonly kind: 'pass' } | { readonly kind: 'latency'; readonly ms: number } | { readonly kind: 'blackhole' } | { readonly kind: 'reset' } | { readonly kind: 'bandwidth'; readonly bytesPerSecond: number };

/** A proxy's delay at most: a fault longer than this is a blackhole, and is asked for as one. */
export const MAX_PROXY_LATENCY_MS = 60_000;
/** Connections one proxy holds at once; a client past it is refused (the proxy is a test tool, not a load balancer). */
export const MAX_PROXY_CONNECTIONS = 1_024;
const BANDWIDTH_TICK_MS = 50;
const MS_PER_SECOND = 1_000;

export interface FaultProxy {
  /** host:port to give the client instead of the upstream's. */
  readonly address: string;
  readonly port: number;
  mode(): FaultMode;
  set(mode: FaultMode): void;
  /** Connections it has accepted so far (a check that traffic really went through it). */
  accepted(): number;
  close(): Promise<void>;
}

/** Forwards `from` to `to` under the proxy's current mode, read at each chunk. */
function pipe(from: net.Socket, to: net.Socket, current: () => FaultMode): void {
  let chain = Promise.resolve();
  let budget = 0;
  let budgetAt = Date.now();
  from.on('data', (chunk: Buffer) => {
    const mode = current();
    if (mode.kind === 'blackhole') return;
    if (mode.kind === 'pass') {
      chain = chain.then(() => void to.write(chunk));
      return;
    }
    if (mode.kind === 'latency') {
      const due = Date.now() + Math.min(mode.ms, MAX_PROXY_LATENCY_MS);
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => resolve(void to.write(chunk)), Math.max(0, due - Date.now()))));
      return;
    }
    if (mode.kind === 'bandwidth') {
      chain = chain.then(async () => {
        for (let offset = 0; offset < chunk.length; ) {
          const now = Date.now();
          budget = Math.min(mode.bytesPerSecond, budget + ((now - budgetAt) * mode.bytesPerSecond) / MS_PER_SECOND);
          budgetAt = now;
          const n = Math.min(Math.floor(budget), chunk.length - offset);
          if (n > 0) {
            to.write(chunk.subarray(offset, offset + n));
            offset += n;
            budget -= n;
          } else {
            await new Promise((resolve) => setTimeout(resolve, BANDWIDTH_TICK_MS));
          }
        }
      });
    }
  });
  from.on('end', () => void chain.then(() => to.end()));
}

/**
 * A TCP proxy to sit between a service and a peer, Redis or PostgreSQL: the byte stream only (TLS
 * passes through untouched), with a mode the harness changes while traffic flows.
 */
export async function startFaultProxy(upstream: { host: string; port: number }, initial: FaultMode = { kind: 'pass' }): Promise<FaultProxy> {
  let mode = initial;
  let accepted = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: false }, (client) => {
    accepted += 1;
    if (mode.kind === 'reset' || open.size >= MAX_PROXY_CONNECTIONS * 2) {
      client.resetAndDestroy();
      return;
    }
    const target = net.connect(upstream.port, upstream.host);
    for (const s of [client, target]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        target.destroy();
      });
    }
    pipe(client, target, () => mode);
    pipe(target, client, () => mode);
  });
  server.maxConnections = MAX_PROXY_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    mode: () => mode,
    set(next) {
      mode = next;
      if (next.kind === 'reset') for (const s of open) s.resetAndDestroy();
    },
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
