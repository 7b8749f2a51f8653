import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../emulator/identity/device-record.js';
import { DeviceAuthenticator } from '../../emulator/identity/auth.js';
import { wellKnownPolicies } from '../../emulator/identity/policies.js';
import { createSasToken } from '../../protocol/sas.js';

const keyA = Buffer.alloc(32, 1).toString('base64');
const keyB = Buffer.alloc(32, 2).toString('base64');
const keyC = Buffer.alloc(32, 3).toString('base64');

function device(deviceId: string, primaryKey: string, secondaryKey: string): DeviceRecord {
  return { deviceId, authentication: { type: 'sas', symmetricKey: { primaryKey, secondaryKey } } } as unknown as DeviceRecord;
}

// A verified token is remembered per identity (identity/auth.ts); these check that remembering it changes no answer.
describe('DeviceAuthenticator with a remembered token', () => {
  const now = 1_800_000_000;
  const auth = new DeviceAuthenticator();
  const authenticateDevice = auth.authenticate.bind(auth);

  it('accepts the same token again, and refuses it once its expiry passes', () => {
    const record = device('memo-1', keyA, keyB);
    const token = createSasToken('hub/devices/memo-1', keyA, now + 60);
    expect(authenticateDevice(record, token, now)).toEqual({ ok: true, expiry: now + 60 });
    expect(authenticateDevice(record, token, now + 30)).toEqual({ ok: true, expiry: now + 60 });
    expect(authenticateDevice(record, token, now + 61)).toEqual({ ok: false, reason: 'the SAS token has expired' });
  });

  it('refuses a remembered token as soon as the key that signed it is no longer one of the device keys', () => {
    const record = device('memo-2', keyA, keyB);
    const token = createSasToken('hub/devices/memo-2', keyB, now + 60);
    expect(authenticateDevice(record, token, now).ok).toBe(true);
    // the keys swapped places: keyB still signs
    expect(authenticateDevice(device('memo-2', keyB, keyA), token, now).ok).toBe(true);
    // keyB regenerated
    expect(authenticateDevice(device('memo-2', keyA, keyC), token, now)).toEqual({ ok: false, reason: 'the signature does not match the device keys' });
  });

  it('does not carry one identity’s token over to another, nor a policy token past its own checks', () => {
    const token = createSasToken('hub/devices/memo-3', keyA, now + 60);
    expect(authenticateDevice(device('memo-3', keyA, keyB), token, now).ok).toBe(true);
    expect(authenticateDevice(device('memo-4', keyA, keyB), token, now).ok).toBe(false);
    const policy = wellKnownPolicies.find((p) => p.rights.includes('DeviceConnect') && !p.rights.includes('RegistryRead'))!;
    const policyToken = createSasToken('hub/devices', policy.primaryKey, now + 60, policy.keyName);
    expect(authenticateDevice(device('memo-5', keyA, keyB), policyToken, now)).toEqual({ ok: true, expiry: now + 60 });
    expect(authenticateDevice(device('memo-5', keyC, keyC), policyToken, now)).toEqual({ ok: true, expiry: now + 60 });
    expect(authenticateDevice(device('memo-5', keyA, keyB), policyToken, now + 61)).toEqual({ ok: false, reason: 'the SAS token has expired' });
  });

  it('keeps its memo to itself: another authenticator remembers none of it', () => {
    const first = new DeviceAuthenticator();
    const second = new DeviceAuthenticator();
    const token = createSasToken('hub/devices/memo-6', keyA, now + 60);
    expect(first.authenticate(device('memo-6', keyA, keyB), token, now).ok).toBe(true);
    expect(first.size).toBe(1);
    expect(second.size).toBe(0);
  });

  it('forgets the oldest identity past its limit', () => {
    const small = new DeviceAuthenticator(2);
    for (const id of ['memo-7', 'memo-8', 'memo-9']) {
      expect(small.authenticate(device(id, keyA, keyB), createSasToken(`hub/devices/${id}`, keyA, now + 60), now).ok).toBe(true);
    }
    expect(small.size).toBe(2);
  });
});
