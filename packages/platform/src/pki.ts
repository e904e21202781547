import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Workload } from '@bank/contracts';
import { CA_CERT_FILE, certFile, keyFile } from './identity';

/** How long the local stack's certificates live; `bank-cli up` renews them before they run out. */
export const LOCAL_CERT_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;
/** A certificate with less than this left is issued again at the next start. */
export const LOCAL_CERT_RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
const CA_KEY_FILE = 'ca.key';
const KEY_FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** ECDSA P-256: fast to make and to handshake, and what cert-manager issues by default for workloads. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function pem(label: string, der: ArrayBuffer): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

/**
 * Makes the local stack's PKI in `dir`: a CA (kept, key 0600) and, for each workload that has
 * none or whose certificate is about to run out, a certificate and key. Key material stays in
 * `dir` and is never logged. Production loads the same files from secrets (cert-manager); this
 * is for `bank-cli up` and the tests. The X.509 library is loaded only here, never by a service.
 */
export async function issueLocalIdentities(dir: string, workloads: readonly Workload[], nowMs: number = Date.now()): Promise<void> {
  // The library's dependency injection wants the reflect polyfill; loaded here, on demand.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const notBefore = new Date(nowMs - 60_000);
  const notAfter = new Date(nowMs + LOCAL_CERT_VALIDITY_MS);
  const fresh = async (file: string) => {
    if (!existsSync(file)) return false;
    const cert = new x509.X509Certificate(await readFile(file, 'utf8'));
    return cert.notAfter.getTime() - nowMs > LOCAL_CERT_RENEW_BEFORE_MS;
  };

  const caCertPath = path.join(dir, CA_CERT_FILE);
  const caKeyPath = path.join(dir, CA_KEY_FILE);
  let caKey: webcrypto.CryptoKey;
  let caCert: InstanceType<typeof x509.X509Certificate>;
  // A new CA voids every certificate the old one signed.
  let caIssued = false;
  if ((await fresh(caCertPath)) && existsSync(caKeyPath)) {
    caCert = new x509.X509Certificate(await readFile(caCertPath, 'utf8'));
    const der = Buffer.from((await readFile(caKeyPath, 'utf8')).replace(/-----[^-]+-----|\s/g, ''), 'base64');
    caKey = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']);
  } else {
    const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: 'CN=bank local CA',
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    });
    caKey = keys.privateKey;
    caIssued = true;
    await writeFile(caKeyPath, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', caKey)), { mode: KEY_FILE_MODE });
    await chmod(caKeyPath, KEY_FILE_MODE);
    await writeFile(caCertPath, caCert.toString('pem'));
  }
  for (const name of workloads) {
    const certPath = path.join(dir, certFile(name));
    const keyPath = path.join(dir, keyFile(name));
    if (!caIssued && existsSync(keyPath) && (await fresh(certPath)) && (await signedBy(x509, certPath, caCert))) continue;
    const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${name}`,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      signingKey: caKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // Every workload both serves (except bank-cli) and calls: one certificate for both ends.
        new x509.ExtendedKeyUsageExtension([SERVER_AUTH, CLIENT_AUTH]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }]),
      ],
    });
    await writeFile(keyPath, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), { mode: KEY_FILE_MODE });
    await chmod(keyPath, KEY_FILE_MODE);
    await writeFile(certPath, cert.toString('pem'));
  }
}

async function signedBy(x509: typeof import('@peculiar/x509'), certPath: string, ca: InstanceType<typeof import('@peculiar/x509').X509Certificate>): Promise<boolean> {
  const cert = new x509.X509Certificate(await readFile(certPath, 'utf8'));
  return cert.issuer === ca.subject && (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }));
}
