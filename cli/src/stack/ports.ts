import net from 'node:net';
import { EXIT_CONFIG, StackError } from './errors';

/** How many ports above a default are tried before giving up on finding a free one. */
export const MAX_PORT_PROBES = 100;
const MAX_PORT = 65_535;

/** True when nothing listens on host:port, found by binding it for a moment. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Parses a port given on the command line or in the environment; names `source` when it is wrong. */
export function parsePort(raw: string, source: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new StackError(`${source} must be a port number between 1 and ${MAX_PORT} (got ${JSON.stringify(raw)})`, EXIT_CONFIG);
  }
  return port;
}

/**
 * Hands out ports for one run. A port somebody asked for is used as it is (and refused when
 * taken, since a silent substitute would surprise them); otherwise the default or the next free
 * one above it, so the same machine gets the same ports run after run.
 */
export class PortPlanner {
  private readonly taken = new Set<number>();

  constructor(private readonly host: string) {}

  async requested(port: number, source: string): Promise<number> {
    if (this.taken.has(port) || !(await isPortFree(this.host, port))) {
      throw new StackError(`${source}: port ${port} on ${this.host} is already in use`, EXIT_CONFIG);
    }
    this.taken.add(port);
    return port;
  }

  async fromDefault(defaultPort: number, what: string): Promise<number> {
    for (let port = defaultPort; port < defaultPort + MAX_PORT_PROBES && port <= MAX_PORT; port++) {
      if (!this.taken.has(port) && (await isPortFree(this.host, port))) {
        this.taken.add(port);
        return port;
      }
    }
    throw new StackError(`no free port for ${what} on ${this.host} between ${defaultPort} and ${defaultPort + MAX_PORT_PROBES - 1}`);
  }

  /** The port from `explicit` when given, else from the default. */
  async pick(explicit: number | undefined, source: string, defaultPort: number): Promise<number> {
    return explicit !== undefined ? this.requested(explicit, source) : this.fromDefault(defaultPort, source);
  }
}
