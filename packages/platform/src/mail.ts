import nodemailer from 'nodemailer';

export const SMTP_CONNECTION_TIMEOUT_MS = 10_000;
export const SMTP_SOCKET_TIMEOUT_MS = 20_000;

/** An SMTP transport with explicit timeouts (Gmail in production, MailDev locally). */
export function createMailTransport(smtpUrl: string): nodemailer.Transporter {
  const url = new URL(smtpUrl);
  return nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: SMTP_CONNECTION_TIMEOUT_MS,
    socketTimeout: SMTP_SOCKET_TIMEOUT_MS,
    greetingTimeout: SMTP_CONNECTION_TIMEOUT_MS,
    // MailDev speaks plain SMTP; a production URL uses smtps:// or a server offering STARTTLS.
    ignoreTLS: url.hostname === '127.0.0.1' || url.hostname === 'localhost',
  });
}
