import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { authV1 } from '@bank/contracts';
import { DomainError, newId } from '@bank/kernel';
import { implement, startGrpcServer, tokenVerifierSchema, type Logger } from '@bank/platform';
import { testIdentity } from './identities';

const TEST_KEY_ID = 'test-key-1';
/** The issuer and audience every verifier expects by default (tokenVerifierSchema's defaults). */
const ISSUER = tokenVerifierSchema.JWT_ISSUER.default as string;
const AUDIENCE = tokenVerifierSchema.JWT_AUDIENCE.default as string;
const TEST_TOKEN_TTL_S = 15 * 60;

export interface TestAuth {
  /** Where services under test read the keys: their AUTH_GRPC_ADDR. */
  readonly address: string;
  /** An access token for `userId`, signed the way auth-service signs one. */
  tokenFor(userId: string, roles: readonly string[]): string;
  /** Signed by a key the published set does not hold: what a forger can make. */
  forgedTokenFor(userId: string, roles: readonly string[]): string;
  stop(): Promise<void>;
}

/**
 * auth-service's key publication for a suite that runs a service without the real auth-service:
 * a real gRPC server, as auth-service's identity, serving GetJwks from a key made for the suite.
 * Every other RPC is refused; a test that needs them starts the real service.
 */
export async function startTestAuth(logger: Logger): Promise<TestAuth> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const key: authV1.Jwk = { kty: 'RSA', kid: TEST_KEY_ID, alg: 'RS256', use: 'sig', n: String(jwk.n), e: String(jwk.e), crv: '', x: '' };
  const refuse = async (): Promise<never> => {
    throw new DomainError('NOT_FOUND', 'the test auth serves only GetJwks');
  };
  const binding = implement(authV1.AuthServiceService, { signUp: refuse, login: refuse, refresh: refuse, logout: refuse, setRoles: refuse, getUser: refuse, revokeSessions: refuse, listSigningKeys: refuse, rotateSigningKey: refuse, getJwks: async () => ({ keys: [key] }) }, { logger });
  const server = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], identity: testIdentity('auth-service'), logger });
  server.setServing(true);
  const sign = (signer: typeof privateKey, userId: string, roles: readonly string[]) =>
    jwt.sign({ roles: [...roles] }, signer, { algorithm: 'RS256', keyid: TEST_KEY_ID, issuer: ISSUER, audience: AUDIENCE, subject: userId, expiresIn: TEST_TOKEN_TTL_S, jwtid: newId() });
  return {
    address: `127.0.0.1:${server.port}`,
    tokenFor: (userId, roles) => sign(privateKey, userId, roles),
    forgedTokenFor: (userId, roles) => sign(forger.privateKey, userId, roles),
    stop: () => server.shutdown(1_000),
  };
}
