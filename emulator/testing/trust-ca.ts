import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';

/**
 * How this process came to trust the emulator's CA:
 * - `environment`: NODE_EXTRA_CA_CERTS named it when the process started (the global setup's way);
 * - `setDefaultCACertificates`: Node ≥ 22.19 / 24.5 added it to the default list at run time;
 * - `createSecureContext`: older Node; every TLS context created without its own `ca` gets it added.
 */
export type TrustMethod = 'environment' | 'setDefaultCACertificates' | 'createSecureContext';

interface TrustState {
  cas: Set<string>;
  patched: boolean;
}

// Kept on the tls module itself: jest loads this file once per test file (one module registry
// each), but they all share the one real tls module, which must be patched only once.
const STATE = Symbol.for('iothub-emulator.trusted-cas');

interface TlsWithDefaults {
  [STATE]?: TrustState;
  createSecureContext: typeof tls.createSecureContext;
  setDefaultCACertificates?(certs: string[]): void;
  getCACertificates?(type?: 'default' | 'system' | 'bundled' | 'extra'): string[];
}
const tlsModule = tls as unknown as TlsWithDefaults;

function state(): TrustState {
  tlsModule[STATE] ??= { cas: new Set(), patched: false };
  return tlsModule[STATE];
}

/**
 * Makes the official SDKs in this process trust `ca`: Node reads NODE_EXTRA_CA_CERTS only at
 * start, the service SDK brings its own https.Agent, and the device SDK's MQTT and WebSocket
 * transports use TLS defaults, so the one place all of them meet is the default trust list.
 * Checks first with a real handshake against the emulator at `probe`, and changes nothing when
 * the process already trusts it.
 */
export async function trustCa(ca: string, probe: { host: string; port: number }): Promise<TrustMethod> {
  if (await isTrusted(probe)) return state().cas.has(ca) ? currentMethod() : 'environment';
  const method = addDefaultCa(ca);
  if (!(await isTrusted(probe))) {
    throw new Error(
      `This process still does not trust the emulator's CA after adding it (${method}); set NODE_EXTRA_CA_CERTS before the test runner starts (see docs/testing.md)`,
    );
  }
  return method;
}

/**
 * Adds `ca` to this process's default trust without checking anything (the CLI's client commands
 * use it: the service SDK brings its own https.Agent and takes no CA option).
 */
export function addDefaultCa(ca: string): Exclude<TrustMethod, 'environment'> {
  if (state().cas.has(ca)) return currentMethod();
  let method: Exclude<TrustMethod, 'environment'>;
  if (typeof tlsModule.setDefaultCACertificates === 'function' && typeof tlsModule.getCACertificates === 'function') {
    tlsModule.setDefaultCACertificates([...tlsModule.getCACertificates('default'), ca]);
    method = 'setDefaultCACertificates';
  } else {
    addToEveryDefaultContext(ca);
    method = 'createSecureContext';
  }
  state().cas.add(ca);
  return method;
}

function currentMethod(): Exclude<TrustMethod, 'environment'> {
  return state().patched ? 'createSecureContext' : 'setDefaultCACertificates';
}

/**
 * Node < 22.19 has no API to extend the default CA list at run time, so tls.createSecureContext
 * (which tls.connect, https and every agent call for each connection) is wrapped: a context built
 * with the default roots also gets our CAs. A caller that passes its own `ca` is left alone.
 */
function addToEveryDefaultContext(ca: string): void {
  const s = state();
  s.cas.add(ca);
  if (s.patched) return;
  // Adding to a context's store makes Node give that context a fresh copy of the bundled roots
  // (other contexts are unaffected), and that copy lacks what NODE_EXTRA_CA_CERTS added at start:
  // those are added back from the file, so a corporate proxy's CA keeps working.
  const inherited = extraCasFromEnvironment();
  const original = tlsModule.createSecureContext;
  tlsModule.createSecureContext = function createSecureContext(options?: tls.SecureContextOptions): tls.SecureContext {
    const context = original.call(this, options);
    if (!options?.ca) {
      const native = (context as unknown as { context: { addCACert(pem: string): void } }).context;
      if (inherited) native.addCACert(inherited);
      for (const pem of s.cas) native.addCACert(pem);
    }
    return context;
  };
  s.patched = true;
}

function extraCasFromEnvironment(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    const pem = readFileSync(file, 'utf8');
    return pem.includes('BEGIN CERTIFICATE') ? pem : undefined;
  } catch {
    return undefined; // Node itself only warns about an unreadable file
  }
}

/** A TLS handshake with default settings: does this process's default trust verify the server? */
export function isTrusted(target: { host: string; port: number }, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: target.host, port: target.port, servername: isIP(target.host) ? undefined : target.host, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No TLS answer from ${target.host}:${target.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
