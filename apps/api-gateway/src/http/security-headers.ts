import type { RequestHandler } from 'express';
import helmet from 'helmet';

const SECONDS_PER_DAY = 86_400;
export const HSTS_MAX_AGE_SECONDS = 365 * SECONDS_PER_DAY;

/**
 * The API itself only serves JSON, so the policy only has to make /docs work: Swagger UI loads
 * its scripts and styles from this origin, fetches /openapi.json, sets inline styles and uses
 * data: images. Everything else (other origins, plugins, framing, inline scripts) stays refused.
 * `upgrade-insecure-requests` is left out on purpose: TLS ends at the load balancer, and on a
 * plain-http dev machine it would break /docs; HSTS covers the production case.
 */
export const CONTENT_SECURITY_POLICY_DIRECTIVES = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
};

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY_DIRECTIVES, reportOnly: false },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: true,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true, preload: false },
    xContentTypeOptions: true,
    xDnsPrefetchControl: { allow: false },
    xDownloadOptions: true,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
    xPoweredBy: true,
    xXssProtection: true,
  }) as RequestHandler;
}
