import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata polyfill loaded first
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

// ECDSA P-256: handshakes cost a fraction of RSA-2048's, which matters with thousands of devices.
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface ServerCredentials {
  /** PEM of the local CA users trust (NODE_EXTRA_CA_CERTS) */
  ca: string;
  caPath: string;
  cert: string;
  key: string;
}

interface Pem {
  cert: string;
  key: string;
}

/**
 * The local CA lives in `caDir` (by default the user's own, see ca-location.ts) and is reused
 * forever (users trust it once). The server certificate in `certDir` is reused while it covers
 * every name asked for and is not near expiry; otherwise a new one is issued by the same CA.
 * `persistServer` false keeps it in memory (parallel hubs sharing one directory must not
 * overwrite each other's certificate).
 */
export async function loadOrCreateCredentials(
  certDir: string,
  names: readonly string[],
  persistServer: boolean,
  caDir: string = certDir,
): Promise<ServerCredentials> {
  const { caPath, ...ca } = await loadOrCreateCa(caDir);
  const wanted = [...new Set(['localhost', '127.0.0.1', '::1', ...names])];
  const certPath = path.join(certDir, 'server.pem');
  const keyPath = path.join(certDir, 'server-key.pem');
  if (persistServer && existsSync(certPath) && existsSync(keyPath)) {
    const existing = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
    if (covers(existing.cert, ca.cert, wanted)) return { ca: ca.cert, caPath, ...existing };
  }
  const server = await issueServerCertificate(ca, wanted);
  if (persistServer) {
    mkdirSync(certDir, { recursive: true });
    writeFileSync(certPath, server.cert);
    writeFileSync(keyPath, server.key, { mode: 0o600 });
  }
  return { ca: ca.cert, caPath, ...server };
}

/** The CA in `caDir`, created there (key first, owner-only directory) the first time it is asked for. */
export async function loadOrCreateCa(caDir: string): Promise<Pem & { caPath: string }> {
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const caPath = path.join(caDir, 'ca.pem');
  return { caPath, ...(await readOrCreateCa(caDir)) };
}

async function readOrCreateCa(caDir: string): Promise<Pem> {
  const certPath = path.join(caDir, 'ca.pem');
  const keyPath = path.join(caDir, 'ca-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=iothub-emulator local CA, O=iothub-emulator',
    keys,
    notBefore: daysFromNow(-1),
    notAfter: daysFromNow(3650),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pem = { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
  // Written key first and with exclusive flags, so two processes creating a CA at once cannot
  // leave a certificate that does not match its key.
  try {
    writeFileSync(keyPath, pem.key, { mode: 0o600, flag: 'wx' });
    writeFileSync(certPath, pem.cert, { flag: 'wx' });
    return pem;
  } catch {
    return waitForCa(certPath, keyPath);
  }
}

function waitForCa(certPath: string, keyPath: string): Pem {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (existsSync(certPath)) {
      const cert = readFileSync(certPath, 'utf8');
      if (cert.includes('END CERTIFICATE')) return { cert, key: readFileSync(keyPath, 'utf8') };
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new Error(`Another process is creating the CA in ${path.dirname(certPath)} and did not finish`);
}

async function issueServerCertificate(ca: Pem, names: readonly string[]): Promise<Pem> {
  const caKey = await webcrypto.subtle.importKey('pkcs8', pemBody(ca.key), KEY_ALGORITHM, false, ['sign']);
  const caCert = new x509.X509Certificate(ca.cert);
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'CN=iothub-emulator',
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    notBefore: daysFromNow(-1),
    notAfter: daysFromNow(825),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

function covers(certPem: string, caPem: string, names: readonly string[]): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (!cert.checkIssued(new NodeX509(caPem))) return false;
    if (new Date(cert.validTo).getTime() < Date.now() + 30 * 86_400_000) return false;
    return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
  } catch {
    return false;
  }
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}
