import { createHmac, timingSafeEqual } from 'node:crypto';

// Shared access signatures (docs/protocol.md §1.4): sig = base64(HMAC-SHA256(base64decode(key), sr + "\n" + se)).

export interface SasToken {
  /** `sr` exactly as it appears in the token (still percent-encoded when the signer encoded it) */
  readonly rawResource: string;
  /** `sr` percent-decoded */
  readonly resource: string;
  readonly signature: string;
  readonly expiry: number;
  readonly keyName?: string;
}

export function sign(key: string, resource: string, expiry: number): string {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${resource}\n${expiry}`).digest('base64');
}

/** Builds a token the way the Node SDKs do: `sr` percent-encoded, fields in sr, sig, se[, skn] order. */
export function createSasToken(resource: string, key: string, expiry: number, keyName?: string): string {
  const sr = encodeURIComponent(resource);
  const sig = encodeURIComponent(sign(key, sr, expiry));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiry}${keyName ? `&skn=${encodeURIComponent(keyName)}` : ''}`;
}

/** Parses `SharedAccessSignature k=v&k=v…` in any field order; undefined when it is not one. */
export function parseSasToken(token: string): SasToken | undefined {
  const match = /^SharedAccessSignature\s+(.+)$/.exec(token.trim());
  if (!match) return undefined;
  const fields = new Map<string, string>();
  for (const part of match[1].split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  const rawResource = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (rawResource === undefined || sig === undefined || se === undefined || !/^\d+$/.test(se)) return undefined;
  const skn = fields.get('skn');
  try {
    return {
      rawResource,
      resource: decodeURIComponent(rawResource),
      signature: decodeURIComponent(sig),
      expiry: Number(se),
      keyName: skn === undefined ? undefined : decodeURIComponent(skn),
    };
  } catch {
    return undefined;
  }
}

/**
 * True when one of the keys signed the token. SDKs differ in how they encode `sr` (Node's service
 * SDK signs the raw host, device SDKs the encoded URI), so the signature is checked over the
 * literal `sr` first and over its canonical encoding second.
 */
export function signatureMatches(token: SasToken, keys: readonly string[]): boolean {
  return signingKey(token, keys) !== undefined;
}

/** The one of `keys` that signed the token (the first, should two be equal), as `signatureMatches` decides it. */
export function signingKey(token: SasToken, keys: readonly string[]): string | undefined {
  const presented = Buffer.from(token.signature, 'base64');
  const candidates = new Set([token.rawResource, encodeURIComponent(token.resource), token.resource]);
  for (const key of keys) {
    if (!key) continue;
    for (const resource of candidates) {
      const expected = Buffer.from(sign(key, resource, token.expiry), 'base64');
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) return key;
    }
  }
  return undefined;
}

/** Path-segment prefix rule (docs/protocol.md §1.4): `host/devices` covers `host/devices/d1`, not `host/devicesX`. */
export function resourceCovers(granted: string, target: string): boolean {
  const g = trimSlashes(granted).toLowerCase();
  const t = trimSlashes(target).toLowerCase();
  return t === g || t.startsWith(`${g}/`);
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

/**
 * Event Hubs' rule (Service Bus convention): the HMAC key is the UTF-8 bytes of the key string,
 * not its base64 decoding. `@azure/event-hubs` signs every token this way.
 */
export function signWithKeyString(key: string, resource: string, expiry: number): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(`${resource}\n${expiry}`).digest('base64');
}

/** `signatureMatches` for tokens signed with the key string (Event Hubs clients). */
export function signatureMatchesKeyString(token: SasToken, keys: readonly string[]): boolean {
  const presented = Buffer.from(token.signature, 'base64');
  const candidates = new Set([token.rawResource, encodeURIComponent(token.resource), token.resource]);
  for (const key of keys) {
    if (!key) continue;
    for (const resource of candidates) {
      const expected = Buffer.from(signWithKeyString(key, resource, token.expiry), 'base64');
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) return true;
    }
  }
  return false;
}

/** A token as `@azure/event-hubs` builds it: `sr` = encodeURIComponent(audience), signed with the key string. */
export function createEventHubsSasToken(audience: string, key: string, expiry: number, keyName: string): string {
  const sr = encodeURIComponent(audience);
  const sig = encodeURIComponent(signWithKeyString(key, sr, expiry));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiry}&skn=${encodeURIComponent(keyName)}`;
}
