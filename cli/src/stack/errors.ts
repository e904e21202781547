/** Exit codes of `bank-cli up`, after sysexits.h so scripts can tell the causes apart. */
export const EXIT_OK = 0;
/** Something failed at run time: a service died, startup timed out, an unexpected error. */
export const EXIT_FAILURE = 1;
/** A required peer (Redis, PostgreSQL) is missing or does not answer (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;
/** The configuration is wrong, as the services themselves exit on bad configuration (EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** A failure with a message meant for the person at the terminal, and the exit code it maps to. */
export class StackError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'StackError';
  }
}

/** Hides the password of a connection URL, so that URLs can appear in messages. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Rejects with `message` when `promise` has not settled within `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StackError(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The value of `promise`, or undefined when it has not settled within `timeoutMs`; the timer does not outlive the race. */
export async function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
