import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** A local SMTP server a test's bank sends its emails to. */
export interface TestSmtp {
  readonly server: SMTPServer;
  readonly port: number;
  /** smtp://127.0.0.1:port, for SMTP_URL. */
  readonly url: string;
  /** Connection errors seen (a sender killed mid-message resets its connection). */
  readonly errors: Error[];
  close(): Promise<void>;
}

/**
 * Starts an SMTP server on loopback with the test defaults (no authentication, no STARTTLS, no
 * log), the given hooks on top. smtp-server emits a connection's socket error (ECONNRESET from a
 * sender SIGKILLed inside a transaction) on the server; without a listener that is an uncaught
 * exception that fails the whole suite, so it is recorded here instead.
 */
export async function startTestSmtp(hooks: Partial<SMTPServerOptions>, port = 0): Promise<TestSmtp> {
  const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], logger: false, ...hooks });
  const errors: Error[] = [];
  server.on('error', (err: Error) => errors.push(err));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.server.address() as AddressInfo).port;
  return { server, port: bound, url: `smtp://127.0.0.1:${bound}`, errors, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
