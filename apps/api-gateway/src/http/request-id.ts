import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';

export const REQUEST_ID_HEADER = 'X-Request-Id';
export const MAX_REQUEST_ID_LENGTH = 128;
/** Printable ASCII only: the id is echoed in a header and written to logs, so no control bytes. */
const CLIENT_REQUEST_ID_PATTERN = new RegExp(`^[\\x20-\\x7E]{1,${MAX_REQUEST_ID_LENGTH}}$`);

export function isValidRequestId(value: string): boolean {
  return CLIENT_REQUEST_ID_PATTERN.test(value);
}

/**
 * Gives every request an id and puts it on the response before anything else runs, so that even
 * a request rejected by a later middleware (413, 429, a crash) can be traced in the logs. A
 * client's own id is kept when it is usable, so its logs and ours line up.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const presented = req.get(REQUEST_ID_HEADER);
    const id = presented !== undefined && isValidRequestId(presented) ? presented : randomUUID();
    res.locals.requestId = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    next();
  };
}

export function requestIdOf(res: Response): string {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : '';
}
