import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { problem, sendProblem } from './problem';

/** API.md: bodies over 64 KiB get 413. Nothing in the API comes close to it. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** `application/merge-patch+json` and friends are JSON too. */
export const JSON_MEDIA_TYPES = ['application/json', 'application/*+json'];

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Whether the request carries body bytes. type-is counts `Content-Length: 0` as a body, but that
 * is what fetch and most clients send with a body-less POST such as /v1/accounts/{id}/close.
 */
function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const lengthBytes = Number(req.headers['content-length']);
  return Number.isInteger(lengthBytes) && lengthBytes > 0;
}

/**
 * Refuses a body the JSON parser would silently skip. Without this a form-encoded or text body
 * would reach a handler as "no body" and fail with a misleading validation error.
 */
export function requireJsonBody(): RequestHandler {
  return (req, res, next) => {
    if (METHODS_WITH_BODY.has(req.method) && hasBody(req) && !req.is(JSON_MEDIA_TYPES)) {
      sendProblem(res, problem('UNSUPPORTED_MEDIA_TYPE', `The request body must be JSON (${JSON_MEDIA_TYPES.join(' or ')}).`));
      return;
    }
    next();
  };
}

export function parseJsonBody(): RequestHandler {
  return express.json({
    limit: BODY_LIMIT_BYTES,
    type: JSON_MEDIA_TYPES,
    // Only objects and arrays: a bare string or number is never a valid request here.
    strict: true,
    // Compressed request bodies buy nothing at this size and add a decompression-bomb surface.
    inflate: false,
  });
}

interface BodyParserError {
  readonly type: string;
  readonly status: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string' && typeof (err as { status?: unknown }).status === 'number';
}

/** Turns the body parser's errors into problems; anything else goes on to the final handler. */
export function bodyErrors(): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (!isBodyParserError(err)) {
      next(err);
      return;
    }
    switch (err.type) {
      case 'entity.too.large':
        sendProblem(res, problem('PAYLOAD_TOO_LARGE', `The request body must not exceed ${BODY_LIMIT_BYTES} bytes.`));
        return;
      case 'entity.parse.failed':
        sendProblem(res, problem('VALIDATION_FAILED', 'The request body is not valid JSON (or not a JSON object or array).'));
        return;
      case 'encoding.unsupported':
        sendProblem(res, problem('UNSUPPORTED_MEDIA_TYPE', 'Compressed request bodies are not accepted.'));
        return;
      case 'charset.unsupported':
        sendProblem(res, problem('UNSUPPORTED_MEDIA_TYPE', 'The request body must be UTF-8.'));
        return;
      case 'request.aborted':
      case 'request.size.invalid':
        sendProblem(res, problem('VALIDATION_FAILED', 'The request body was incomplete.'));
        return;
      default:
        next(err);
    }
  };
}
