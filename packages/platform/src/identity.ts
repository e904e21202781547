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

/** The caller's workload, from the certificate it presented; undefined when it presented none we know. */
export function callerWorkload(call: { getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } }): Workload | undefined {
  const name = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  return isWorkload(name) ? name : undefined;
}
