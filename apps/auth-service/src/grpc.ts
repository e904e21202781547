import { authV1 } from '@bank/contracts';
import { DomainError } from '@bank/kernel';
import { implement, type Logger, type ServiceBinding } from '@bank/platform';
import type { Auth } from './auth';
import type { SigningKeys } from './signing';

/** Refuses empty required strings up front with INVALID_ARGUMENT and one entry per field. */
function required(values: Record<string, string>): void {
  const fields = Object.entries(values)
    .filter(([, v]) => v === '')
    .map(([field]) => ({ field, message: 'is required' }));
  if (fields.length > 0) throw new DomainError('VALIDATION_FAILED', `missing ${fields.map((f) => f.field).join(', ')}`, { fields });
}

const toProto = (p: { accessToken: string; refreshToken: string; tokenType: string; expiresInSeconds: number }): authV1.TokenPair => ({
  accessToken: p.accessToken,
  refreshToken: p.refreshToken,
  tokenType: p.tokenType,
  expiresInSeconds: p.expiresInSeconds,
});

/** AuthService over gRPC: translation and input presence only; the rules are in Auth. */
export function authGrpcService(auth: Auth, keys: SigningKeys, opts: { logger: Logger; accessTokenTtlSeconds: number }): ServiceBinding {
  return implement(
    authV1.AuthServiceService,
    {
      signUp: async (req, ctx) => {
        required({ email: req.email, password: req.password, fullName: req.fullName });
        return auth.signUp(req, ctx.traceparent);
      },
      login: async (req) => {
        required({ email: req.email, password: req.password });
        return toProto(await auth.login(req));
      },
      refresh: async (req) => {
        required({ refreshToken: req.refreshToken });
        return toProto(await auth.refresh(req.refreshToken));
      },
      logout: async (req) => {
        required({ refreshToken: req.refreshToken });
        await auth.logout(req.refreshToken);
        return {};
      },
      getJwks: async () => ({ keys: (await keys.jwks()).map((k) => ({ ...k, crv: '', x: '' })) }),
      setRoles: async (req) => {
        required({ email: req.email });
        return auth.setRoles(req.email, req.roles);
      },
      getUser: async (req) => {
        required({ email: req.email });
        const u = await auth.user(req.email);
        return { ...u, lockedUntil: u.lockedUntil ?? undefined };
      },
      revokeSessions: async (req) => {
        required({ email: req.email });
        return { ...(await auth.revokeSessions(req.email)), accessTokenTtlSeconds: opts.accessTokenTtlSeconds };
      },
      listSigningKeys: async () => ({ keys: (await keys.list()).map((k) => ({ ...k, retiredAt: k.retiredAt ?? undefined })) }),
      rotateSigningKey: async () => keys.rotate(),
    },
    opts,
  );
}
