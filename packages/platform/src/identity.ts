import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { isWorkload, type Workload } from '@bank/contracts';

/**
 * A workload's identity inside the bank: its certificate and key, and the CA that signed every
 * workload's. Servers require a client certificate from that CA and take the caller's name from
 * it; clients check that the server's certificate names the workload they meant to reach. There
 * is no shared secret: a stolen key acts as its one workload, and the authorization table
 * (contracts' trust.ts) bounds what that is.
 */
export interface WorkloadIdentity {
  readonly name: Workload;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The files of an identity folder (BANK_TLS_DIR): `ca.crt`, and `<workload>.crt` with `<workload>.key`. */
export const CA_CERT_FILE = 'ca.crt';
export const certFile = (name: string): string => `${name}.crt`;
export const keyFile = (name: string): string => `${name}.key`;

export function loadIdentity(dir: string, name: string): WorkloadIdentity {
  if (!isWorkload(name)) throw new Error(`unknown workload ${String(name)}`);
  const read = (file: string) => {
    try {
      return readFileSync(path.join(dir, file));
    } catch (e) {
      throw new Error(`cannot read ${file} of ${name}'s identity in ${dir}: ${(e as Error).message}`);
    }
  };
  return { name, ca: read(CA_CERT_FILE), cert: read(certFile(name)), key: read(keyFile(name)) };
}

/** A server that takes calls only from workloads with a certificate from the bank's CA. */
export function serverCredentials(identity: WorkloadIdentity): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(identity.ca, [{ private_key: identity.key, cert_chain: identity.cert }], true);
}

/**
 * A client that presents its identity and trusts only servers with a certificate from the bank's
 * CA. Which workload the server must be is checked by name (createClient); a health probe, which
 * any workload may answer, asks for the CA alone.
 */
export function channelCredentials(identity: WorkloadIdentity, opts: { anyWorkload?: boolean } = {}): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(identity.ca, identity.key, identity.cert, opts.anyWorkload ? { checkServerIdentity: () => undefined } : {});
}

/** How many wrappers (grpc-js interceptors) are looked through for a call's HTTP/2 stream. */
const MAX_CALL_WRAPPERS = 8;

/**
 * The HTTP/2 session (one per TLS connection) a grpc-js server call came on, through the pinned
 * grpc-js's internals (call → interceptors → stream); undefined if their shape is not that.
 */
function sessionOf(call: object): object | undefined {
  let inner: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; typeof inner === 'object' && inner !== null && depth < MAX_CALL_WRAPPERS; depth++) {
    const session = (inner as { stream?: { session?: unknown } }).stream?.session;
    if (typeof session === 'object' && session !== null) return session;
    inner = (inner as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/**
 * Workloads by connection: a connection's client certificate cannot change (TLS 1.3, and Node's
 * HTTP/2 refuses renegotiation), and reading it (getPeerCertificate builds the whole certificate
 * as an object) was a twentieth of the ledger's CPU per call. Keyed by the session object, never
 * by an address a later connection could reuse; gone with the connection.
 */
const workloadOfSession = new WeakMap<object, Workload | undefined>();

/** The caller's workload, from the certificate it presented; undefined when it presented none we know. */
export function callerWorkload(call: { getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } }): Workload | undefined {
  const session = sessionOf(call);
  if (session !== undefined && workloadOfSession.has(session)) return workloadOfSession.get(session);
  const name = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  const workload = isWorkload(name) ? name : undefined;
  if (session !== undefined) workloadOfSession.set(session, workload);
  return workload;
}
