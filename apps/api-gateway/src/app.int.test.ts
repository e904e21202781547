import { isUuid } from '@bank/kernel';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { startGrpcServer, type RunningGrpcServer } from '@bank/platform';
import { TEST_REDIS_URL, captureLogger, startTestRedis, testQueuePrefix, waitFor, testIdentity } from '@bank/testkit';
import { createApp, type AppOptions } from './app';
import { startHttpServer, type RunningHttpServer } from './http/server';
import { createRedis } from './redis';

const { logger, lines } = captureLogger('api-gateway-test');
const PREFIX = `${testQueuePrefix('api-gateway')}:`;
const AUTH_LIMIT = 3;
const PEER_NAMES = ['auth', 'user', 'ledger', 'payment'] as const;

let redis: Redis;
let deadRedis: Redis;
let grpcPeer: RunningGrpcServer;
const servers: RunningHttpServer[] = [];
/** Gateway whose peers are all down. */
let gateway: string;
/** Gateway whose peers all answer. */
let healthyGateway: string;
/** Gateway whose Redis is unreachable. */
let redislessGateway: string;

/** A loopback port that was free a moment ago, so connections to it are refused. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function peersAt(address: string): Record<string, string> {
  return Object.fromEntries(PEER_NAMES.map((name) => [name, address]));
}

/** The operations port of each gateway, by its public URL. */
const opsUrls = new Map<string, string>();
const opsOf = (url: string): string => opsUrls.get(url) ?? '';

async function serve(deps: { redis: Redis; peers: Record<string, string>; options: AppOptions }): Promise<string> {
  const { app, ops } = createApp({ logger, identity: testIdentity('api-gateway'), ...deps });
  const server = await startHttpServer(app, { host: '127.0.0.1', port: 0, logger });
  const opsServer = await startHttpServer(ops, { host: '127.0.0.1', port: 0, logger });
  servers.push(server, opsServer);
  opsUrls.set(server.url, opsServer.url);
  return server.url;
}

const testOptions = (label: string): AppOptions => ({
  rateLimitPrefix: `${PREFIX}${label}:`,
  authRateLimit: { limit: AUTH_LIMIT, windowMs: 60_000 },
  generalRateLimit: { limit: 1_000, windowMs: 60_000 },
  readinessCacheMs: 0,
  readinessTimeoutMs: 2_000,
});

beforeAll(async () => {
  redis = createRedis(TEST_REDIS_URL, logger);
  await redis.connect();
  deadRedis = createRedis(`redis://127.0.0.1:${await closedPort()}`, logger);
  grpcPeer = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [], identity: testIdentity('user-service'), logger });
  grpcPeer.setServing(true);
  gateway = await serve({ redis, peers: peersAt(`127.0.0.1:${await closedPort()}`), options: testOptions('down') });
  healthyGateway = await serve({ redis, peers: peersAt(`127.0.0.1:${grpcPeer.port}`), options: testOptions('up') });
  redislessGateway = await serve({ redis: deadRedis, peers: peersAt(`127.0.0.1:${grpcPeer.port}`), options: testOptions('noredis') });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop(1_000)));
  await grpcPeer.shutdown(1_000);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  deadRedis.disconnect();
});

async function problemOf(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json; charset=utf-8$/);
  return (await res.json()) as Record<string, unknown>;
}

describe('request ids', () => {
  it('echoes a usable client id', async () => {
    const res = await fetch(`${gateway}/healthz`, { headers: { 'X-Request-Id': 'client-trace 42/abc' } });
    expect(res.headers.get('x-request-id')).toBe('client-trace 42/abc');
  });

  it('makes a UUID when the client sent none or an unusable one', async () => {
    const none = await fetch(`${gateway}/healthz`);
    expect(isUuid(none.headers.get('x-request-id') ?? '')).toBe(true);
    const tooLong = await fetch(`${gateway}/healthz`, { headers: { 'X-Request-Id': 'a'.repeat(129) } });
    expect(isUuid(tooLong.headers.get('x-request-id') ?? '')).toBe(true);
    const notAscii = await fetch(`${gateway}/healthz`, { headers: { 'X-Request-Id': 'caf\u00e9' } });
    expect(isUuid(notAscii.headers.get('x-request-id') ?? '')).toBe(true);
    const longest = 'b'.repeat(128);
    expect((await fetch(`${gateway}/healthz`, { headers: { 'X-Request-Id': longest } })).headers.get('x-request-id')).toBe(longest);
  });

  it('is on error responses too', async () => {
    const res = await fetch(`${gateway}/nope`, { headers: { 'X-Request-Id': 'err-1' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('err-1');
  });
});

describe('errors', () => {
  it('answers an unknown route with a 404 problem', async () => {
    const res = await fetch(`${gateway}/v1/does-not-exist`);
    expect(res.status).toBe(404);
    expect(await problemOf(res)).toEqual({
      type: 'https://bank.example/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'No route for GET /v1/does-not-exist.',
      code: 'NOT_FOUND',
    });
  });

  it('refuses a JSON body over 64 KiB with 413', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(65 * 1024) });
    const res = await fetch(`${gateway}/v1/accounts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(res.status).toBe(413);
    expect(await problemOf(res)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(isUuid(res.headers.get('x-request-id') ?? '')).toBe(true);
  });

  it('accepts a JSON body just under the limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(60 * 1024) });
    const res = await fetch(`${gateway}/v1/accounts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    // Parsed fine; there is no accounts route yet.
    expect(res.status).toBe(404);
  });

  it('refuses malformed JSON with 400 VALIDATION_FAILED', async () => {
    const res = await fetch(`${gateway}/v1/accounts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"currency":' });
    expect(res.status).toBe(400);
    expect(await problemOf(res)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', type: 'https://bank.example/problems/validation-failed' });
  });

  it('refuses a JSON scalar as a body with 400', async () => {
    const res = await fetch(`${gateway}/v1/accounts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '"USD"' });
    expect(res.status).toBe(400);
  });

  it('refuses a text/plain POST and a form PATCH with 415', async () => {
    const text = await fetch(`${gateway}/v1/accounts`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'currency=USD' });
    expect(text.status).toBe(415);
    expect(await problemOf(text)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const form = await fetch(`${gateway}/v1/me`, { method: 'PATCH', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'fullName=x' });
    expect(form.status).toBe(415);
  });

  it('lets a POST without a body through to routing', async () => {
    const res = await fetch(`${gateway}/v1/accounts/123/close`, { method: 'POST' });
    expect(res.status).toBe(404);
  });
});

describe('security headers', () => {
  it('sets helmet headers and hides the framework', async () => {
    const res = await fetch(`${gateway}/healthz`);
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});

describe('operability', () => {
  it('GET /healthz is 200 ok', async () => {
    const res = await fetch(`${gateway}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 503 while the gRPC peers are down; only the operations port says which', async () => {
    const pub = await fetch(`${gateway}/readyz`);
    expect([pub.status, await pub.json()]).toEqual([503, { status: 'not-ready' }]);
    const res = await fetch(`${opsOf(gateway)}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not-ready',
      checks: { auth: 'down', user: 'down', ledger: 'down', payment: 'down', redis: 'up' },
      rateLimits: 'shared',
    });
  });

  it('GET /readyz is 200 when every peer serves and Redis answers', async () => {
    const pub = await fetch(`${healthyGateway}/readyz`);
    expect([pub.status, await pub.json()]).toEqual([200, { status: 'ready' }]);
    const res = await fetch(`${opsOf(healthyGateway)}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { auth: 'up', user: 'up', ledger: 'up', payment: 'up', redis: 'up' },
      rateLimits: 'shared',
    });
  });

  it('GET /readyz is 503 when the peers answer but do not serve', async () => {
    grpcPeer.setServing(false);
    try {
      const res = await fetch(`${opsOf(healthyGateway)}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { checks: Record<string, string> }).checks.ledger).toBe('down');
    } finally {
      grpcPeer.setServing(true);
    }
  });

  it('GET /metrics, on the operations port only, counts requests by route template, never by raw path', async () => {
    await fetch(`${gateway}/healthz`);
    await fetch(`${gateway}/v1/accounts/0d5c1f8e-1b5a-4c1e-9a51-6a4f6f0e8b11/secret-path`);
    expect((await fetch(`${gateway}/metrics`)).status).toBe(404);
    const res = await fetch(`${opsOf(gateway)}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/healthz",status="200",service="api-gateway"\} \d+$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\(unmatched\)",status="404",service="api-gateway"\} \d+$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.005",service="api-gateway",method="GET",route="\/healthz",status="200"\} \d+$/m);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).not.toContain('secret-path');
  });

  it('GET /openapi.json describes every endpoint of API.md (but the payment timeline, which comes with bank-cli\'s saga commands, #16)', async () => {
    const res = await fetch(`${gateway}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'POST /v1/auth/signup',
        'POST /v1/auth/login',
        'POST /v1/auth/refresh',
        'POST /v1/auth/logout',
        'GET /.well-known/jwks.json',
        'GET /v1/me',
        'PATCH /v1/me',
        'POST /v1/accounts',
        'GET /v1/accounts',
        'GET /v1/accounts/{id}',
        'GET /v1/accounts/{id}/transactions',
        'POST /v1/accounts/{id}/close',
        'POST /v1/payments',
        'GET /v1/payments/{id}',
        'GET /v1/payments',
        'POST /v1/payments/{id}/cancel',
        'POST /v1/admin/deposits',
        'POST /v1/admin/accounts/{id}/freeze',
        'POST /v1/admin/accounts/{id}/unfreeze',
        'GET /v1/admin/accounts/{id}',
        'GET /v1/admin/payments/{id}/timeline',
        'GET /healthz',
        'GET /readyz',
        'GET /openapi.json',
        'GET /docs',
      ].sort(),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Account', 'Entry', 'Payment', 'Problem']));
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
  });

  it('GET /docs serves Swagger UI from node_modules, pointed at /openapi.json', async () => {
    for (const path of ['/docs', '/docs/']) {
      const page = await fetch(`${gateway}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('<div id="swagger-ui">');
    }
    const bundle = await fetch(`${gateway}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    await bundle.arrayBuffer();
    const css = await fetch(`${gateway}/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    await css.arrayBuffer();
    const init = await fetch(`${gateway}/docs/swagger-initializer.js`);
    expect(await init.text()).toContain('"/openapi.json"');
  });
});

describe('rate limits', () => {
  it('limits login and signup together, more strictly than the rest, with RateLimit-* and Retry-After', async () => {
    const login = () => fetch(`${gateway}/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"email":"a@b.c","password":"p"}' });
    for (let i = 1; i <= AUTH_LIMIT; i++) {
      const res = await login();
      expect(res.status).toBe(404); // Not rate limited; there is no login route yet.
      expect(res.headers.get('ratelimit-limit')).toBe(String(AUTH_LIMIT));
      expect(res.headers.get('ratelimit-remaining')).toBe(String(AUTH_LIMIT - i));
      await res.arrayBuffer();
    }
    const limited = await login();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-limit')).toBe(String(AUTH_LIMIT));
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect(isUuid(limited.headers.get('x-request-id') ?? '')).toBe(true);
    expect(await problemOf(limited)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });

    const signup = await fetch(`${gateway}/v1/auth/signup`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(signup.status).toBe(429);
    await signup.arrayBuffer();
    // Same route to express, so the same limit: case and a trailing slash do not get around it.
    const disguised = await fetch(`${gateway}/V1/Auth/Login/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(disguised.status).toBe(429);
    await disguised.arrayBuffer();

    const other = await fetch(`${gateway}/v1/accounts`);
    expect(other.status).toBe(404);
    expect(other.headers.get('ratelimit-limit')).toBe('1000');
    await other.arrayBuffer();
    // Another gateway's counters (another prefix) are untouched.
    const elsewhere = await fetch(`${healthyGateway}/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(elsewhere.status).toBe(404);
    await elsewhere.arrayBuffer();
  });

  it('does not count operability endpoints against the limit', async () => {
    const res = await fetch(`${gateway}/healthz`);
    expect(res.headers.get('ratelimit-limit')).toBeNull();
  });

  it('keeps serving with local limits when Redis is unreachable, and says so in /readyz', async () => {
    // The route does not exist behind this gateway (no api deps): 404 means the request was admitted.
    const res = await fetch(`${redislessGateway}/v1/accounts`);
    expect(res.status).toBe(404);
    expect(res.headers.get('ratelimit-limit')).toBe('1000');
    await res.arrayBuffer();
    const ready = await fetch(`${opsOf(redislessGateway)}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: 'down', ledger: 'up' }, rateLimits: 'local' });
  });

  it('counts locally through a real Redis outage (same limits, one log line each way), then in Redis again', async () => {
    const own = await startTestRedis();
    const ownRedis = createRedis(own.url, logger);
    await ownRedis.connect();
    const prefix = `${PREFIX}outage:`;
    const { app, ops } = createApp({ logger, identity: testIdentity('api-gateway'), redis: ownRedis, peers: peersAt(`127.0.0.1:${grpcPeer.port}`), options: { ...testOptions('outage'), rateLimitPrefix: prefix } });
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0, logger });
    const opsServer = await startHttpServer(ops, { host: '127.0.0.1', port: 0, logger });
    const { url } = server;
    const login = async () => {
      const r = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      await r.arrayBuffer();
      return r.status;
    };
    const before = lines.length;
    const logged = (message: string) => lines.slice(before).filter((l) => l.includes(message) && l.includes('"component":"rate-limit"')).length;
    try {
      expect(await login()).toBe(404);
      expect(await ownRedis.keys(`${prefix}*`)).not.toHaveLength(0);
      await own.stop();
      await waitFor(async () => ownRedis.status !== 'ready', 5_000);
      // The limit still holds while Redis is away: AUTH_LIMIT admitted per window, counted here.
      const during = [];
      for (let i = 0; i < AUTH_LIMIT + 2; i++) during.push(await login());
      expect(during.slice(0, AUTH_LIMIT)).toEqual(Array(AUTH_LIMIT).fill(404));
      expect(during.slice(AUTH_LIMIT)).toEqual([429, 429]);
      const degraded = await fetch(`${opsServer.url}/readyz`);
      expect(degraded.status).toBe(200);
      expect(await degraded.json()).toMatchObject({ checks: { redis: 'down' }, rateLimits: 'local' });
      expect(logged('redis unavailable')).toBe(1);

      await own.start();
      await waitFor(async () => ownRedis.status === 'ready', 10_000);
      // Redis kept its counter of the first login (append-only file): 1 of AUTH_LIMIT used.
      expect(await login()).toBe(404);
      expect(logged('redis available again')).toBe(1);
      const back = await fetch(`${opsServer.url}/readyz`);
      expect(await back.json()).toMatchObject({ checks: { redis: 'up' }, rateLimits: 'shared' });
      const [counter] = await ownRedis.keys(`${prefix}auth:*`);
      expect(Number(await ownRedis.get(counter as string))).toBe(2);
    } finally {
      await server.stop(1_000);
      await opsServer.stop(1_000);
      await ownRedis.quit();
      await own.dispose();
    }
  }, 60_000);
});

describe('access log', () => {
  it('writes one line per request with route, status, duration and request id, never bodies or tokens', async () => {
    const res = await fetch(`${gateway}/v1/accounts?cursor=opaque-cursor`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer eyJ-very-secret-token', 'X-Request-Id': 'log-check-1' },
      body: JSON.stringify({ password: 'hunter2-hunter2' }),
    });
    await res.arrayBuffer();
    const line = await waitFor(async () => lines.find((l) => l.includes('"requestId":"log-check-1"')), 2_000);
    expect(JSON.parse(line)).toMatchObject({ msg: 'request', method: 'POST', route: '(unmatched)', status: 404, requestId: 'log-check-1', durationMs: expect.any(Number) });
    const all = lines.join('\n');
    expect(all).not.toContain('very-secret-token');
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('opaque-cursor');
  });
});
