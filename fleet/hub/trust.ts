import tls from 'node:tls';

/**
 * The CA list for a connection that must trust `extraCa` as well as the system roots. Node's `ca`
 * option replaces the default list, hence the roots are repeated. Building a context from ~140 roots
 * costs tens of milliseconds, so callers build one and share it.
 */
export function caBundle(extraCa: string | undefined): string[] | undefined {
  return extraCa ? [...tls.rootCertificates, extraCa] : undefined;
}

let shared: { ca: string | undefined; context: tls.SecureContext } | undefined;

/**
 * One client context per extra CA, shared by every device connection of this process. TLS 1.2, as
 * IoT Hub negotiates it: a resumed 1.2 handshake needs no key exchange at all, which measured about
 * 40% less CPU per connection on both ends than 1.3 (where resumption still does ECDHE).
 */
export function clientSecureContext(extraCa: string | undefined): tls.SecureContext {
  if (shared === undefined || shared.ca !== extraCa) {
    shared = { ca: extraCa, context: tls.createSecureContext({ ca: caBundle(extraCa), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }) };
  }
  return shared.context;
}
