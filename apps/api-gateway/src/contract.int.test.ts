import type { Redis } from 'ioredis';
import type { Express } from 'express';
import { captureLogger, TEST_REDIS_URL, testIdentity, testQueuePrefix } from '@bank/testkit';
import { newId } from '@bank/kernel';
import { createApp } from './app';
import { TokenVerifier } from '@bank/platform';
import { OPENAPI_DOCUMENT } from './http/openapi';
import { startHttpServer, type RunningHttpServer } from './http/server';
import { Peers } from './peers';
import { createRedis } from './redis';

// The router and the document come from one table; this walks what Express really registered
// and what the document really says, so a route added past the table (or a table entry without
// a route) fails here.

const { logger } = captureLogger('api-gateway-contract');
const CLOSED = '127.0.0.1:1';
let redis: Redis;
let peers: Peers;
let app: Express;
let server: RunningHttpServer;

beforeAll(async () => {
  redis = createRedis(TEST_REDIS_URL, logger);
  await redis.connect();
  peers = new Peers({ auth: CLOSED, user: CLOSED, ledger: CLOSED, payment: CLOSED }, testIdentity('api-gateway'));
  const verifier = new TokenVerifier(async () => Promise.reject(new Error('auth-service unavailable')), { issuer: 'i', audience: 'a' });
  app = createApp({ logger, redis, peers: {}, identity: testIdentity('api-gateway'), api: { clients: peers, verifier }, options: { rateLimitPrefix: `${testQueuePrefix('contract')}:` } }).app;
  server = await startHttpServer(app, { host: '127.0.0.1', port: 0, logger });
});

afterAll(async () => {
  await server.stop(1_000);
  peers.close();
  await redis.quit();
});

interface Layer {
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean> };
  readonly handle: { readonly stack?: readonly Layer[] };
  readonly rawPath?: unknown;
}

/** Every (method, path) Express routes, nested routers included, in OpenAPI's `{param}` form. */
function routesOf(stack: readonly Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const path = `${prefix}${layer.route.path}`.replace(/:(\w+)/g, '{$1}');
      return Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${path}`);
    }
    if (layer.handle.stack) return routesOf(layer.handle.stack, `${prefix}${layer.rawPath === '/' ? '' : String(layer.rawPath)}`);
    return [];
  });
}

const documented = Object.entries(OPENAPI_DOCUMENT.paths ?? {}).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`));

describe('the router and the OpenAPI document', () => {
  it('have the same set of (method, path)', () => {
    const routed = new Set(routesOf((app as unknown as { router: { stack: Layer[] } }).router.stack));
    // Swagger UI's own assets live under /docs; they are files of the page, not operations.
    const operations = [...routed].filter((r) => !r.startsWith('GET /docs/'));
    expect(operations.sort()).toEqual([...new Set(documented)].sort());
    expect(documented.length).toBeGreaterThanOrEqual(24);
  });

  it('never answers "No route" on a documented route', async () => {
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string];
      const url = `${server.url}${path.replace(/\{\w+\}/g, newId())}`;
      const res = await fetch(url, { method, headers: method === 'GET' ? {} : { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      const text = await res.text();
      expect([entry, res.status, text]).toEqual([entry, res.status, expect.not.stringContaining('No route')]);
    }
  });
});
