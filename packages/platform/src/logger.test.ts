import { Writable } from 'node:stream';
import { createLogger } from './logger';

describe('logger redaction', () => {
  it('never writes passwords, tokens or authorization headers', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('t', 'info', sink);
    log.info({ password: 'hunter2hunter2', body: { refreshToken: 'rt-secret', email: 'a@b.c' } }, 'signup');
    log.info({ req: { headers: { authorization: 'Bearer eyJsecret' } } }, 'request');
    log.info({ accessToken: 'at-secret', nested: { deeper: { token: 'x' } }, serviceToken: 'st-secret' }, 'tokens');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    for (const secret of ['hunter2hunter2', 'rt-secret', 'eyJsecret', 'at-secret', 'st-secret']) expect(text).not.toContain(secret);
    expect(text).toContain('a@b.c');
    expect(text).toContain('[redacted]');
  });
});
