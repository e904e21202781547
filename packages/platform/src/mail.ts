import nodemailer from 'nodemailer';

/** The smallest pause between two sends at the configured rate is this window divided by the rate. */
const RATE_WINDOW_MS = 1_000;

export interface MailTransportOptions {
  /** smtp://host:port (MailDev), smtps://user:app-password@smtp.gmail.com:465 (Gmail). */
  readonly smtpUrl: string;
  /** Connections kept open and reused (Gmail dislikes a connection per message). */
  readonly maxConnections: number;
  /** Messages per second at most, across the pool (Gmail limits senders). */
  readonly maxMessagesPerSecond: number;
  /** Connecting, the greeting and each reply each wait at most this long. */
  readonly timeoutMs: number;
  /** Gmail's OAuth2 (XOAUTH2) instead of a password; the user is the URL's. */
  readonly oauth2?: { readonly clientId: string; readonly clientSecret: string; readonly refreshToken: string };
}

/** A pooled, rate-limited SMTP transport with explicit timeouts (Gmail in production, MailDev locally). */
export function createMailTransport(opts: MailTransportOptions): nodemailer.Transporter {
  const url = new URL(opts.smtpUrl);
  const user = decodeURIComponent(url.username);
  const auth = opts.oauth2
    ? { type: 'OAuth2' as const, user, clientId: opts.oauth2.clientId, clientSecret: opts.oauth2.clientSecret, refreshToken: opts.oauth2.refreshToken }
    : user
      ? { user, pass: decodeURIComponent(url.password) }
      : undefined;
  return nodemailer.createTransport({
    pool: true,
    maxConnections: opts.maxConnections,
    rateDelta: RATE_WINDOW_MS,
    rateLimit: opts.maxMessagesPerSecond,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    auth,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
    // MailDev speaks plain SMTP; a production URL uses smtps:// or a server offering STARTTLS.
    ignoreTLS: url.hostname === '127.0.0.1' || url.hostname === 'localhost',
  });
}
