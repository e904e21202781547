import { Money } from '@bank/kernel';

// The emails, each with a text and an HTML part. Amounts come from minor units through the
// kernel (never a float); names are escaped in HTML; of the other party's account only the last
// characters show.

export type TemplateName = 'welcome' | 'payment_sent' | 'payment_received' | 'payment_failed' | 'deposit_received' | 'account_frozen' | 'account_closed';

export interface Rendered {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** What a template may use; amounts are minor units as strings (as they travel in events). */
export interface TemplateData {
  readonly name: string;
  readonly amount?: string;
  readonly currency?: string;
  readonly account?: string;
  readonly otherAccount?: string;
  readonly description?: string;
  readonly failureCode?: string;
}

/** Characters of an account id that an email shows: enough to recognise it, not to use it. */
const VISIBLE_ACCOUNT_CHARS = 4;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export function maskAccount(id: string): string {
  return `••••${id.slice(-VISIBLE_ACCOUNT_CHARS)}`;
}

function money(d: TemplateData): string {
  return Money.of(BigInt(d.amount ?? '0'), d.currency ?? 'USD').display();
}

const FAILURE_TEXT: Readonly<Record<string, string>> = {
  INSUFFICIENT_FUNDS: 'there was not enough money in the account',
  ACCOUNT_FROZEN: 'an account is frozen',
  ACCOUNT_CLOSED: 'an account is closed',
  LIMIT_EXCEEDED: 'it would pass your daily limit',
  HOLD_EXPIRED: 'it could not be completed in time',
};

/** Subject and lines of each template, as plain text; the HTML part is built from the same lines. */
function lines(template: TemplateName, d: TemplateData): { subject: string; body: string[] } {
  switch (template) {
    case 'welcome':
      return { subject: 'Welcome to the bank', body: [`Hello ${d.name},`, 'your account with us is ready. Open a bank account to start.'] };
    case 'payment_sent':
      return { subject: `You sent ${money(d)}`, body: [`Hello ${d.name},`, `you sent ${money(d)} to account ${maskAccount(d.otherAccount ?? '')}.`, ...(d.description ? [`Description: ${d.description}`] : [])] };
    case 'payment_received':
      return { subject: `You received ${money(d)}`, body: [`Hello ${d.name},`, `you received ${money(d)} from account ${maskAccount(d.otherAccount ?? '')}.`, ...(d.description ? [`Description: ${d.description}`] : [])] };
    case 'payment_failed':
      return { subject: `Your payment of ${money(d)} failed`, body: [`Hello ${d.name},`, `your payment of ${money(d)} to account ${maskAccount(d.otherAccount ?? '')} did not go through: ${FAILURE_TEXT[d.failureCode ?? ''] ?? 'it was refused'}.`, 'No money left your account.'] };
    case 'deposit_received':
      return { subject: `${money(d)} was deposited`, body: [`Hello ${d.name},`, `${money(d)} was deposited into your account ${maskAccount(d.account ?? '')}.`] };
    case 'account_frozen':
      return { subject: 'Your account was frozen', body: [`Hello ${d.name},`, `your account ${maskAccount(d.account ?? '')} was frozen. Please contact us.`] };
    case 'account_closed':
      return { subject: 'Your account was closed', body: [`Hello ${d.name},`, `your account ${maskAccount(d.account ?? '')} is closed.`] };
  }
}

export function render(template: TemplateName, data: TemplateData): Rendered {
  const { subject, body } = lines(template, data);
  return {
    subject,
    text: `${body.join('\n\n')}\n`,
    html: `<!doctype html><html><body>${body.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</body></html>`,
  };
}
