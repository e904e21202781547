import { escapeHtml, maskAccount, render } from './templates';

describe('email templates', () => {
  it('write amounts per currency from minor units, mask the other account and escape names in HTML', () => {
    const m = render('payment_received', { name: 'Zoë <b>&</b>', amount: '1050', currency: 'JPY', otherAccount: '01a2-ffff-1234', description: 'rent' });
    expect(m.subject).toBe('You received ¥1,050');
    expect(m.text).toContain('Hello Zoë <b>&</b>,');
    expect(m.text).toContain('from account ••••1234.');
    expect(m.text).not.toContain('01a2-ffff');
    expect(m.html).toContain('<p>Hello Zoë &lt;b&gt;&amp;&lt;/b&gt;,</p>');
    expect(render('payment_failed', { name: 'A', amount: '5', currency: 'USD', otherAccount: 'x', failureCode: 'INSUFFICIENT_FUNDS' }).text).toContain('$0.05');
    expect(escapeHtml(`"'`)).toBe('&quot;&#39;');
    expect(maskAccount('abcdef')).toBe('••••cdef');
  });
});
