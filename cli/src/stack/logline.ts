import type { Paint } from './terminal';

/** At most this many extra fields are shown per line; the rest are counted, not printed. */
export const MAX_FIELDS_SHOWN = 8;
/** A longer field value is cut here, so one big object does not flood the terminal. */
export const MAX_FIELD_VALUE_CHARS = 120;

/** pino's numeric levels, with the label and colour each is shown with. */
const LEVELS: ReadonlyMap<number, { label: string; colour: number }> = new Map([
  [10, { label: 'TRACE', colour: 90 }],
  [20, { label: 'DEBUG', colour: 90 }],
  [30, { label: 'INFO', colour: 32 }],
  [40, { label: 'WARN', colour: 33 }],
  [50, { label: 'ERROR', colour: 31 }],
  [60, { label: 'FATAL', colour: 35 }],
]);
const ERROR_LEVEL = 50;
const LEVEL_WIDTH = 5;
const DIM = 2;

/** Fields every line of a service carries (or that are shown elsewhere on the line). */
const OMITTED_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service', 'v']);

interface PinoLine {
  level: number;
  time?: unknown;
  msg?: unknown;
  err?: unknown;
  [field: string]: unknown;
}

function parsePino(raw: string): PinoLine | undefined {
  if (!raw.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value === 'object' && value !== null && typeof (value as { level?: unknown }).level === 'number') return value as PinoLine;
  } catch {
    // Not JSON after all: shown as it is.
  }
  return undefined;
}

function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const at = Number.isNaN(date.getTime()) ? new Date() : date;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}

function shortValue(value: unknown): string {
  const text = typeof value === 'string' ? (/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)) : JSON.stringify(value) ?? String(value);
  return text.length > MAX_FIELD_VALUE_CHARS ? `${text.slice(0, MAX_FIELD_VALUE_CHARS - 1)}…` : text;
}

function describeErr(err: unknown): { summary: string; stack: string | undefined } {
  if (typeof err !== 'object' || err === null) return { summary: shortValue(err), stack: undefined };
  const { type, message, stack } = err as { type?: unknown; message?: unknown; stack?: unknown };
  const summary = `${typeof type === 'string' ? `${type}: ` : ''}${typeof message === 'string' ? message : shortValue(err)}`;
  return { summary: JSON.stringify(summary), stack: typeof stack === 'string' ? stack : undefined };
}

/**
 * Renders one line a service wrote. pino's JSON becomes `time LEVEL message key=value ...`, with
 * an error's stack below it at error level and above; anything else is passed through unchanged.
 * Returns the lines to print.
 */
export function renderLogLine(raw: string, paint: Paint): string[] {
  const entry = parsePino(raw);
  if (entry === undefined) return [raw];
  const level = LEVELS.get(entry.level) ?? { label: String(entry.level), colour: 0 };
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (OMITTED_FIELDS.has(key) || value === undefined) continue;
    if (key === 'err') {
      const err = describeErr(value);
      fields.push(`err=${err.summary}`);
      if (entry.level >= ERROR_LEVEL) stack = err.stack;
      continue;
    }
    fields.push(`${key}=${shortValue(value)}`);
  }
  const shown = fields.slice(0, MAX_FIELDS_SHOWN);
  if (fields.length > shown.length) shown.push(`(+${fields.length - shown.length} more)`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  const head = [paint(DIM, clock(entry.time)), paint(level.colour, level.label.padEnd(LEVEL_WIDTH)), msg, ...shown.map((f) => paint(DIM, f))]
    .filter((part) => part !== '')
    .join(' ');
  if (stack === undefined) return [head];
  // The first stack line repeats the message already shown in err=.
  return [head, ...stack.split('\n').slice(1).map((line) => paint(DIM, `    ${line.trim()}`))];
}
