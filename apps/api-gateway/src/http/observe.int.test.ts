import express from 'express';
import { Registry } from 'prom-client';
import { captureLogger } from '@bank/testkit';
import { createHttpMetrics, measureRequests, routeLabel } from './observe';
import { startHttpServer, type RunningHttpServer } from './server';

const { logger } = captureLogger('observe-test');
const registry = new Registry();
let server: RunningHttpServer;

beforeAll(async () => {
  const app = express();
  app.use(measureRequests(createHttpMetrics(registry)));
  const accounts = express.Router();
  accounts.get('/:id', (_req, res) => {
    res.json({});
  });
  accounts.get('/:id/fails', async () => {
    throw new Error('boom');
  });
  accounts.get('/:id/later', async (_req, res) => {
    await new Promise((r) => setTimeout(r, 5));
    res.json({});
  });
  const v1 = express.Router();
  v1.use('/accounts', accounts);
  app.use('/v1', v1);
  app.use('/static', routeLabel('/static'), (_req, res) => {
    res.end();
  });
  app.use((_req, res) => {
    res.status(404).end();
  });
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).end();
  });
  server = await startHttpServer(app, { host: '127.0.0.1', port: 0, logger });
});

afterAll(() => server.stop(1_000));

async function hit(path: string): Promise<void> {
  await (await fetch(`${server.url}${path}`)).arrayBuffer();
}

it('labels requests with the full route template, also when the handler fails', async () => {
  await hit('/v1/accounts/7');
  await hit('/v1/accounts/8/fails');
  await hit('/v1/accounts/9/later');
  await hit('/static/a/b/c.js');
  await hit('/nowhere/12345');
  const text = await registry.metrics();
  expect(text).toContain('http_requests_total{method="GET",route="/v1/accounts/:id",status="200"} 1');
  expect(text).toContain('http_requests_total{method="GET",route="/v1/accounts/:id/fails",status="500"} 1');
  expect(text).toContain('http_requests_total{method="GET",route="/v1/accounts/:id/later",status="200"} 1');
  expect(text).toContain('http_requests_total{method="GET",route="/static",status="200"} 1');
  expect(text).toContain('http_requests_total{method="GET",route="(unmatched)",status="404"} 1');
  expect(text).not.toContain('12345');
});
