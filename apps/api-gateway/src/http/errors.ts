import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { RemoteCallError, type Logger } from '@bank/platform';
import { ProblemError, problem, problemFromRemoteError, sendProblem } from './problem';
import { requestIdOf } from './request-id';

/**
 * The answer for a route that does not exist, and for one the caller may not know exists (the
 * admin routes, to a customer): the same status, code and words, so that neither tells them apart.
 */
export function noRoute(req: Request): ProblemError {
  return new ProblemError('NOT_FOUND', `No route for ${req.method} ${req.baseUrl}${req.path}.`);
}

export function notFound(): RequestHandler {
  return (req, _res, next) => next(noRoute(req));
}

/**
 * The last stop for every error. Known errors become their problem; anything else is a bug or an
 * outage, answered with a bare 500 (its message may name internals) and logged with the request
 * id the client got, so a support ticket leads straight to the log line.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    const requestId = requestIdOf(res);
    if (res.headersSent) {
      // Too late for a problem document: express closes the connection, and the log says why.
      logger.error({ err, requestId, method: req.method, path: req.path }, 'request failed after the response started');
      next(err);
      return;
    }
    if (err instanceof ProblemError) {
      sendProblem(res, problem(err.code, err.detail, err.errors), err.headers);
      return;
    }
    if (err instanceof RemoteCallError) {
      const body = problemFromRemoteError(err);
      if (body.status >= 500) logger.error({ err, requestId, grpcCode: err.grpcCode, code: err.code }, 'internal call failed');
      sendProblem(res, body, body.status === 429 && err.retryAfterSeconds !== undefined ? { 'Retry-After': String(err.retryAfterSeconds) } : {});
      return;
    }
    logger.error({ err, requestId, method: req.method, path: req.path }, 'request failed');
    sendProblem(res, problem('INTERNAL', 'The request could not be completed.'));
  };
}
