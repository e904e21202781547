import { mkdir } from 'node:fs/promises';
import { describeError, StackError, withTimeout } from './errors';

export const MAILDEV_HOST = '127.0.0.1';
export const MAILDEV_DEFAULT_SMTP_PORT = 1025;
export const MAILDEV_DEFAULT_WEB_PORT = 1080;
/** Mail kept in the inbox (and on disk) at most; the oldest goes first. */
export const MAILDEV_MAX_EMAILS = 1_000;
export const MAILDEV_START_TIMEOUT_MS = 15_000;
export const MAILDEV_STOP_TIMEOUT_MS = 5_000;
/** The address the services send from locally. */
export const LOCAL_MAIL_FROM = 'Bank <no-reply@bank.localhost>';

export interface RunningMailDev {
  readonly smtpUrl: string;
  readonly webUrl: string;
  stop(): Promise<void>;
}

interface ReceivedMail {
  readonly subject?: string;
  readonly from?: readonly { address?: string }[];
  readonly to?: readonly { address?: string }[];
}

/**
 * Runs MailDev inside bank-cli as the services' SMTP peer, its mail kept in `mailDir` so the
 * inbox survives restarts. Both servers listen on loopback only: the inbox holds customer mail.
 */
export async function startMailDev(opts: { smtpPort: number; webPort: number; mailDir: string; onLine: (line: string) => void }): Promise<RunningMailDev> {
  await mkdir(opts.mailDir, { recursive: true });
  const { MailDev } = await import('maildev');
  const maildev = new MailDev({
    smtp: opts.smtpPort,
    ip: MAILDEV_HOST,
    web: opts.webPort,
    webIp: MAILDEV_HOST,
    basePathname: '/',
    mailDirectory: opts.mailDir,
    maxEmails: MAILDEV_MAX_EMAILS,
    // Its own console output would bypass the prefixed lines; arriving mail is reported below.
    silent: true,
    verbose: false,
    logMailContents: false,
    disableWeb: false,
    mcp: false,
  });
  // Its web server announces itself with console.info whatever `silent` says; while it starts,
  // that line is given the maildev prefix like every other line.
  const consoleInfo = console.info;
  console.info = (...args: unknown[]) => opts.onLine(args.map(String).join(' '));
  try {
    const servers = await withTimeout(maildev.start(), MAILDEV_START_TIMEOUT_MS, `MailDev did not start within ${MAILDEV_START_TIMEOUT_MS} ms`);
    servers.smtp.on('new', (mail: ReceivedMail) => {
      const list = (addresses: ReceivedMail['to']) => (addresses ?? []).map((a) => a.address ?? '?').join(', ');
      opts.onLine(`mail from ${list(mail.from)} to ${list(mail.to)}: ${JSON.stringify(mail.subject ?? '')}`);
    });
  } catch (e) {
    throw new StackError(`MailDev did not start (SMTP ${MAILDEV_HOST}:${opts.smtpPort}, web ${MAILDEV_HOST}:${opts.webPort}): ${describeError(e)}`);
  } finally {
    console.info = consoleInfo;
  }
  return {
    smtpUrl: `smtp://${MAILDEV_HOST}:${opts.smtpPort}`,
    webUrl: `http://${MAILDEV_HOST}:${opts.webPort}`,
    stop: () => withTimeout(maildev.stop(), MAILDEV_STOP_TIMEOUT_MS, `MailDev did not stop within ${MAILDEV_STOP_TIMEOUT_MS} ms`),
  };
}
