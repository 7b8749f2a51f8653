import { parseSasToken, resourceCovers, signatureMatches, signingKey } from '../../protocol/sas.js';
import { DEVICE_TOKENS_REMEMBERED, SERVICE_TOKENS_REMEMBERED } from '../limits.js';
import { HubError } from '../errors.js';
import type { DeviceRecord } from './device-record.js';
import { isModuleRecord, type ModuleRecord } from './module-record.js';
import { findPolicy, type Permission, type Policy } from './policies.js';

const unauthorized = (why: string): HubError => new HubError('IotHubUnauthorizedAccess', `Unauthorized: ${why}`);

/**
 * Checks a service request's `Authorization` header and that its policy grants one of `anyOf`.
 *
 * EMULATOR CHOICE: the host part of `sr` is not compared with the hub's name, because one
 * emulator is reached as localhost, 127.0.0.1 or a container name; the signature, expiry, policy
 * and rights are all checked as the hub does. Entra ID (Bearer) tokens are not supported.
 */
export class ServiceAuthenticator {
  // The Node SDK re-signs per request with second resolution, so the same token repeats
  // many times a second; a verified token is remembered until it expires.
  private readonly verified = new Map<string, { policy: Policy; expiry: number }>();

  authorize(header: string | undefined, anyOf: readonly Permission[]): Policy {
    if (!header) throw unauthorized('the request has no Authorization header.');
    const nowSeconds = Date.now() / 1000;
    let entry = this.verified.get(header);
    if (!entry) {
      if (/^Bearer\s/i.test(header)) throw unauthorized('Entra ID (Bearer) tokens are not supported by the emulator; use a SharedAccessSignature.');
      const token = parseSasToken(header);
      if (!token) throw unauthorized('the Authorization header is not a SharedAccessSignature.');
      if (!token.keyName) throw unauthorized('the SharedAccessSignature has no skn (policy name).');
      const policy = findPolicy(token.keyName);
      if (!policy) throw unauthorized(`there is no shared access policy named '${token.keyName}'.`);
      if (!signatureMatches(token, [policy.primaryKey, policy.secondaryKey])) throw unauthorized('the signature does not match the policy key.');
      entry = { policy, expiry: token.expiry };
      if (this.verified.size > SERVICE_TOKENS_REMEMBERED) this.verified.clear();
      this.verified.set(header, entry);
    }
    if (entry.expiry < nowSeconds) throw unauthorized('the SharedAccessSignature has expired.');
    if (!anyOf.some((right) => entry.policy.rights.includes(right))) {
      throw unauthorized(`policy '${entry.policy.keyName}' lacks the ${anyOf.join(' or ')} permission this operation needs.`);
    }
    return entry.policy;
  }
}

export type DeviceAuthResult = { ok: true; expiry: number } | { ok: false; reason: string };

/** A device token that verified: the key that signed it (and the policy, for an skn token) and its expiry. */
interface VerifiedDeviceToken {
  password: string;
  key: string;
  keyName?: string;
  expiry: number;
}

/**
 * Checks devices' and modules' SAS tokens (MQTT passwords, AMQP CBS tokens), remembering the last
 * token each identity connected with that verified (docs/scaling.md §3.3). The SDKs keep their
 * token until its renewal (an hour by default) and present the same one on every reconnect, so a
 * hub restart or a network blip brings each device back with a token already checked: it is taken
 * as verified while the key that signed it is still one of the identity's (or the policy's) keys,
 * so a key rotation or regeneration makes it count for nothing at once, and its expiry is checked
 * on every use as before. Oldest first out past `limit`.
 *
 * One per hub (its RegistryService holds it): hubs in one process (tests run several side by
 * side) keep their own, so one hub's devices neither evict another's nor outlive their hub.
 */
export class DeviceAuthenticator {
  private readonly verified = new Map<string, VerifiedDeviceToken>();

  constructor(private readonly limit = DEVICE_TOKENS_REMEMBERED) {}

  /** How many identities have a verified token remembered. */
  get size(): number {
    return this.verified.size;
  }

  /**
   * A device's MQTT password (docs/protocol.md §1.4): a token for `{host}/devices/{deviceId}` signed with one of
   * the device's keys, or signed by a DeviceConnect policy (skn) for that device or for `{host}/devices`.
   * A module's is for `{host}/devices/{deviceId}/modules/{moduleId}`, signed with the module's own keys.
   */
  authenticate(record: DeviceRecord | ModuleRecord, password: string | undefined, nowSeconds = Date.now() / 1000): DeviceAuthResult {
    if (!password) return { ok: false, reason: 'no SAS token in the password (X.509 authentication is not supported yet)' };
    const identity = isModuleRecord(record) ? `${record.deviceId}/${record.moduleId}` : record.deviceId;
    const remembered = this.rememberedToken(identity, record, password);
    if (remembered) {
      if (remembered.expiry < nowSeconds) return { ok: false, reason: 'the SAS token has expired' };
      return { ok: true, expiry: remembered.expiry };
    }
    const token = parseSasToken(password);
    if (!token) return { ok: false, reason: 'the password is not a SharedAccessSignature' };
    const slash = token.resource.indexOf('/');
    const path = slash < 0 ? '' : token.resource.slice(slash + 1);
    const devicePath = isModuleRecord(record) ? `devices/${record.deviceId}/modules/${record.moduleId}` : `devices/${record.deviceId}`;
    let key: string | undefined;
    if (token.keyName) {
      const policy = findPolicy(token.keyName);
      if (!policy?.rights.includes('DeviceConnect')) return { ok: false, reason: `policy '${token.keyName}' cannot connect devices` };
      if (!resourceCovers(path, devicePath) && path !== '')
        return { ok: false, reason: `the token's resource '${token.resource}' does not cover ${devicePath}` };
      key = signingKey(token, [policy.primaryKey, policy.secondaryKey]);
      if (key === undefined) return { ok: false, reason: 'the signature does not match the policy key' };
    } else {
      // Device ids are case-sensitive, so the device path must match exactly.
      if (path !== devicePath) return { ok: false, reason: `the token's resource '${token.resource}' is not this identity's (${devicePath})` };
      const keys = [record.authentication.symmetricKey.primaryKey ?? '', record.authentication.symmetricKey.secondaryKey ?? ''];
      key = signingKey(token, keys);
      if (key === undefined) return { ok: false, reason: 'the signature does not match the device keys' };
    }
    this.remember(identity, { password, key, keyName: token.keyName || undefined, expiry: token.expiry });
    if (token.expiry < nowSeconds) return { ok: false, reason: 'the SAS token has expired' };
    return { ok: true, expiry: token.expiry };
  }

  private rememberedToken(identity: string, record: DeviceRecord | ModuleRecord, password: string): VerifiedDeviceToken | undefined {
    const entry = this.verified.get(identity);
    if (!entry || entry.password !== password) return undefined;
    if (entry.keyName === undefined) {
      const { primaryKey, secondaryKey } = record.authentication.symmetricKey;
      return entry.key === primaryKey || entry.key === secondaryKey ? entry : undefined;
    }
    const policy = findPolicy(entry.keyName);
    const current = policy?.rights.includes('DeviceConnect') && (entry.key === policy.primaryKey || entry.key === policy.secondaryKey);
    return current ? entry : undefined;
  }

  private remember(identity: string, entry: VerifiedDeviceToken): void {
    this.verified.delete(identity);
    if (this.verified.size >= this.limit) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(identity, entry);
  }
}
