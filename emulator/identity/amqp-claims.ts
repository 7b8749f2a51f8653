import { parseSasToken, signatureMatches, signatureMatchesKeyString } from '../../protocol/sas.js';
import type { DeviceAuthenticator } from './auth.js';
import type { DeviceRecord } from './device-record.js';
import { moduleKey, type ModuleRecord } from './module-record.js';
import { findPolicy, type Policy } from './policies.js';

/**
 * What a CBS put-token (or a SASL PLAIN password) proves, recorded on the AMQP connection that
 * presented it (docs/protocol.md §10.3). Paths are lower-cased, without the host and
 * without leading or trailing slashes, so `resourceCovers` can compare them with link addresses.
 */
export type AmqpClaim =
  /**
   * a device's or a module's token (signed with its own key, or by a policy with DeviceConnect);
   * `key` is its connection key (docs/protocol.md §12.1): the device id, or `{deviceId}/{moduleId}`
   */
  | { kind: 'device'; key: string; deviceId: string; moduleId?: string; audience: string; expiry: number; policy?: Policy }
  /** an IoT Hub policy token for the hub (`HOST` or `HOST/…`) */
  | { kind: 'service'; policy: Policy; audience: string; path: string; expiry: number }
  /** an Event Hubs token (`sb://HOST/<entity>/…`), signed Event Hubs' way */
  | { kind: 'eventHub'; policy: Policy; audience: string; path: string; expiry: number };

export type ClaimResult = { ok: true; claim: AmqpClaim } | { ok: false; status: 400 | 401; description: string };

const refuse = (description: string): ClaimResult => ({ ok: false, status: 401, description });

/** What a device token is checked against: the hub's identities and its device authenticator (the registry service). */
export interface AmqpIdentities {
  findIdentity(key: string): DeviceRecord | ModuleRecord | undefined;
  readonly deviceAuth: DeviceAuthenticator;
}

/**
 * Verifies a token for `audience`. IoT Hub tokens are HMAC'd with the base64-decoded key, Event
 * Hubs tokens (`sb://` audiences) with the key string itself (docs/protocol.md §10.3). A module's
 * audience `HOST/devices/{d}/modules/{m}` takes the module's own key or a DeviceConnect policy
 * (docs/protocol.md §12.3), never its device's key. `identities.findIdentity` looks up a connection key.
 */
export function verifyAmqpToken(audience: string, tokenText: string, identities: AmqpIdentities, nowSeconds = Date.now() / 1000): ClaimResult {
  let decodedAudience: string;
  try {
    decodedAudience = decodeURIComponent(audience);
  } catch {
    return { ok: false, status: 400, description: `The audience '${audience}' is not valid percent-encoding.` };
  }
  if (/^Bearer\s/i.test(tokenText)) return refuse('Entra ID (Bearer/JWT) tokens are not supported by the emulator; use a SharedAccessSignature.');
  const token = parseSasToken(tokenText);
  if (!token) return refuse('The token is not a SharedAccessSignature.');
  if (trim(token.resource).toLowerCase() !== trim(decodedAudience).toLowerCase()) {
    return refuse(`The token's resource '${token.resource}' is not the audience '${decodedAudience}'.`);
  }
  if (token.expiry < nowSeconds) return refuse('The SharedAccessSignature has expired.');

  const eventHub = /^(?:sb|amqps?):\/\/[^/]*\/?(.*)$/i.exec(decodedAudience);
  if (eventHub) {
    const policy = token.keyName ? findPolicy(token.keyName) : undefined;
    if (!policy) return refuse(token.keyName ? `There is no shared access policy named '${token.keyName}'.` : 'An Event Hubs token needs skn (a policy name).');
    // Both signing rules are accepted; Event Hubs clients use the key string.
    const keys = [policy.primaryKey, policy.secondaryKey];
    if (!signatureMatchesKeyString(token, keys) && !signatureMatches(token, keys)) return refuse('The signature does not match the policy key.');
    if (!policy.rights.includes('ServiceConnect'))
      return refuse(`Policy '${policy.keyName}' lacks the ServiceConnect permission the Event Hubs-compatible endpoint needs.`);
    return { ok: true, claim: { kind: 'eventHub', policy, audience: decodedAudience, path: trim(eventHub[1]).toLowerCase(), expiry: token.expiry } };
  }

  const slash = decodedAudience.indexOf('/');
  const path = slash < 0 ? '' : trim(decodedAudience.slice(slash + 1));
  const device = /^devices\/([^/]+)(?:\/modules\/([^/]+))?$/.exec(path);
  if (device) {
    const [, deviceId, moduleId] = device;
    const owner = identities.findIdentity(deviceId);
    if (!owner) return refuse(`Device '${deviceId}' is not registered.`);
    // A module connects only while its device is enabled (docs/protocol.md §12.1).
    if ((owner as DeviceRecord).status !== 'enabled') return refuse(`Device '${deviceId}' is disabled.`);
    const key = moduleId === undefined ? deviceId : moduleKey(deviceId, moduleId);
    const record = moduleId === undefined ? owner : identities.findIdentity(key);
    if (!record) return refuse(`Module '${moduleId}' is not registered on device '${deviceId}'.`);
    const result = identities.deviceAuth.authenticate(record, tokenText, nowSeconds);
    if (!result.ok) return refuse(`${result.reason[0].toUpperCase()}${result.reason.slice(1)}.`);
    const policy = token.keyName ? findPolicy(token.keyName) : undefined;
    const claim = { kind: 'device' as const, key, deviceId, audience: decodedAudience, expiry: token.expiry, policy };
    return { ok: true, claim: moduleId === undefined ? claim : { ...claim, moduleId } };
  }

  if (!token.keyName) return refuse(`A token for '${decodedAudience}' needs skn (a policy name).`);
  const policy = findPolicy(token.keyName);
  if (!policy) return refuse(`There is no shared access policy named '${token.keyName}'.`);
  if (!signatureMatches(token, [policy.primaryKey, policy.secondaryKey])) return refuse('The signature does not match the policy key.');
  if (!policy.rights.includes('ServiceConnect') && !policy.rights.includes('DeviceConnect')) {
    return refuse(`Policy '${policy.keyName}' has neither ServiceConnect nor DeviceConnect.`);
  }
  return { ok: true, claim: { kind: 'service', policy, audience: decodedAudience, path: path.toLowerCase(), expiry: token.expiry } };
}

function trim(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
