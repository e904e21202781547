import type { AddressInfo } from 'node:net';
import express from 'express';
import { RemoteCallError, createLogger } from '@bank/platform';
import { errorHandler } from './errors';

// A peer's rate limit reaches the client as 429 with the Retry-After the peer gave; a peer's
// advice on any other status is not passed on.

const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_FAILED_PRECONDITION = 9;

async function answer(err: RemoteCallError): Promise<Response> {
  const app = express();
  app.get('/x', () => {
    throw err;
  });
  app.use(errorHandler(createLogger('errors-test', 'silent')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  } finally {
    server.close();
  }
}

describe('errorHandler', () => {
  it("passes a peer's Retry-After on with its 429", async () => {
    const res = await answer(new RemoteCallError(GRPC_RESOURCE_EXHAUSTED, 'RATE_LIMITED', 'too many failed logins from this address', [], 600));
    expect([res.status, res.headers.get('retry-after')]).toEqual([429, '600']);
    expect(await res.json()).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('adds none where the peer gave none, or on another status', async () => {
    expect((await answer(new RemoteCallError(GRPC_RESOURCE_EXHAUSTED, 'RATE_LIMITED', 'slow down'))).headers.get('retry-after')).toBeNull();
    const refused = await answer(new RemoteCallError(GRPC_FAILED_PRECONDITION, 'ACCOUNT_FROZEN', 'frozen', [], 600));
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([422, null]);
  });
});
