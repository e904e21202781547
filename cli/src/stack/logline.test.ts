import { MAX_FIELD_VALUE_CHARS, MAX_FIELDS_SHOWN, renderLogLine } from './logline';

const plain = (_code: number, text: string) => text;
const CLOCK = /^\d\d:\d\d:\d\d\.\d{3} /;

describe('renderLogLine', () => {
  it('renders a pino line as time, level, message and its own fields, without the ones every line has', () => {
    const raw = JSON.stringify({ level: 30, time: '2026-11-25T00:39:46.633Z', pid: 1, hostname: 'h', name: 'user-service', service: 'user-service', msg: 'gRPC server listening', port: 50052 });
    const [line, ...rest] = renderLogLine(raw, plain);
    expect(rest).toEqual([]);
    expect(line).toMatch(CLOCK);
    expect(line?.replace(CLOCK, '')).toBe('INFO  gRPC server listening port=50052');
  });

  it('quotes strings with spaces, shows objects as JSON and cuts long values', () => {
    const raw = JSON.stringify({ level: 40, msg: 'm', path: '/readyz', note: 'two words', migrations: ['a', 'b'], big: 'x'.repeat(500) });
    const line = renderLogLine(raw, plain)[0] ?? '';
    expect(line).toContain('WARN  m path=/readyz note="two words" migrations=["a","b"]');
    const big = /big=(\S+)/.exec(line)?.[1] ?? '';
    expect(big).toHaveLength(MAX_FIELD_VALUE_CHARS);
    expect(big.endsWith('…')).toBe(true);
  });

  it('shows an error with its stack at error level, and counts fields beyond the limit', () => {
    const fields = Object.fromEntries(Array.from({ length: MAX_FIELDS_SHOWN + 2 }, (_, i) => [`f${i}`, i]));
    const raw = JSON.stringify({ level: 50, msg: 'call failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at a (a.js:1:1)\n    at b (b.js:2:2)' }, ...fields });
    const [head, ...stack] = renderLogLine(raw, plain);
    expect(head).toContain('ERROR call failed err="Error: boom"');
    expect(head).toContain('(+3 more)');
    expect(stack).toEqual(['    at a (a.js:1:1)', '    at b (b.js:2:2)']);
  });

  it('passes anything that is not a pino line through unchanged', () => {
    expect(renderLogLine('plain text', plain)).toEqual(['plain text']);
    expect(renderLogLine('{not json', plain)).toEqual(['{not json']);
    expect(renderLogLine('{"no":"level"}', plain)).toEqual(['{"no":"level"}']);
  });
});
