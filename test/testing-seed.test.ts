import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { applySeed, keepSeeded } from '../emulator/operations/apply-seed.js';
import { loadSeedFile, parseSeed, SeedError } from '../emulator/operations/seed.js';
import { startTestHub } from './support/hub-factory.js';
import { openDevice, registryFor } from './support/sdk.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXED_KEY = Buffer.alloc(32, 7).toString('base64');

describe('seed files', () => {
  it('reads the same seed from YAML and JSON', () => {
    const yamlFile = path.join(dir, 'seed.yaml');
    writeFileSync(
      yamlFile,
      `devices:\n  - deviceId: door-1\n    tags: { building: '43' }\n    desired:\n      lockTimeoutSeconds: 30\n    reported: { firmware: 1.2.0 }\n  - deviceId: door-2\n    status: disabled\n`,
    );
    const jsonFile = path.join(dir, 'seed.json');
    writeFileSync(
      jsonFile,
      JSON.stringify({
        devices: [
          { deviceId: 'door-1', tags: { building: '43' }, desired: { lockTimeoutSeconds: 30 }, reported: { firmware: '1.2.0' } },
          { deviceId: 'door-2', status: 'disabled' },
        ],
      }),
    );
    expect(loadSeedFile(yamlFile)).toEqual(loadSeedFile(jsonFile));
    expect(loadSeedFile(yamlFile).devices[1]).toEqual({ deviceId: 'door-2', status: 'disabled' });
  });

  it.each([
    [{ devices: [{ deviceId: 'a', desried: {} }] }, /devices\[0\]: unknown field 'desried'/],
    [{ devices: [{ deviceId: 'a' }, { deviceId: 'a' }] }, /devices\[1\]: device 'a' is listed twice/],
    [{ devices: [{ tags: {} }] }, /devices\[0\]: 'deviceId' must be a non-empty string/],
    [{ devices: [{ deviceId: 'a', status: 'on' }] }, /'status' must be enabled or disabled/],
    [{ devices: [{ deviceId: 'a', reported: [1] }] }, /'reported' must be an object/],
    [{ devices: {} }, /'devices' must be a list/],
    [{ device: [] }, /unknown field 'device'/],
    [[], /expected an object with a 'devices' list/],
  ])('names the first problem in %j', (seed, message) => {
    expect(() => parseSeed(seed, 'seed.yaml')).toThrow(SeedError);
    expect(() => parseSeed(seed, 'seed.yaml')).toThrow(message);
  });

  it('says which file is broken and why', () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{"devices": [');
    expect(() => loadSeedFile(file)).toThrow(/broken\.json is not valid JSON/);
    expect(() => loadSeedFile(path.join(dir, 'missing.yaml'))).toThrow(/Cannot read the seed file/);
  });
});

describe('applying a seed', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub?.stop());

  // Each test seeds devices of its own (`<prefix>-door`, `<prefix>-off`), so none depends on another's.
  const seedOf = (prefix: string) =>
    parseSeed({
      devices: [
        {
          deviceId: `${prefix}-door`,
          tags: { building: '43', floor: { number: 2 } },
          desired: { lockTimeoutSeconds: 30 },
          reported: { firmware: '1.2.0' },
          primaryKey: FIXED_KEY,
        },
        { deviceId: `${prefix}-off`, status: 'disabled' },
      ],
    });

  it('creates devices with tags, desired and reported properties, status and fixed keys', async () => {
    const seed = seedOf('seed');
    expect(applySeed(hub, seed)).toEqual({ created: ['seed-door', 'seed-off'], updated: [], unchanged: [] });
    const twin = (await registryFor(hub).getTwin('seed-door')).responseBody;
    expect(twin.tags).toEqual({ building: '43', floor: { number: 2 } });
    expect(twin.properties.desired.lockTimeoutSeconds).toBe(30);
    expect(twin.properties.reported.firmware).toBe('1.2.0');
    expect(hub.deviceConnectionString('seed-door')).toBe(`HostName=${hub.hostName};DeviceId=seed-door;SharedAccessKey=${FIXED_KEY}`);
    expect(hub.registry.get('seed-off').status).toBe('disabled');
    // The fixed key really authenticates a device.
    const client = await openDevice(hub.deviceConnectionString('seed-door'));
    await client.close();
  });

  it('changes nothing when applied again: twin versions and etags stay', async () => {
    const seed = seedOf('again');
    applySeed(hub, seed);
    const before = (await registryFor(hub).getTwin('again-door')).responseBody;
    expect(applySeed(hub, seed)).toEqual({ created: [], updated: [], unchanged: ['again-door', 'again-off'] });
    const after = (await registryFor(hub).getTwin('again-door')).responseBody;
    expect(after.etag).toBe(before.etag);
    expect((after as unknown as { version: number }).version).toBe((before as unknown as { version: number }).version);
  });

  it('puts drifted values back and leaves what the seed does not mention', async () => {
    const seed = seedOf('drift');
    applySeed(hub, seed);
    await registryFor(hub).updateTwin('drift-door', { tags: { building: '44', extra: true }, properties: { desired: { other: 1 } } }, '*');
    expect(applySeed(hub, seed)).toMatchObject({ updated: ['drift-door'] });
    const twin = (await registryFor(hub).getTwin('drift-door')).responseBody;
    expect(twin.tags).toEqual({ building: '43', floor: { number: 2 }, extra: true });
    expect(twin.properties.desired).toMatchObject({ lockTimeoutSeconds: 30, other: 1 });
  });

  it('is applied again after a reset, outside the recording', async () => {
    keepSeeded(hub, parseSeed({ devices: [{ deviceId: 'seed-kept', desired: { x: 1 } }] }));
    await registryFor(hub).create({ deviceId: 'not-seeded' });
    await hub.reset();
    expect(hub.registry.find('not-seeded')).toBeUndefined();
    expect(hub.registry.get('seed-kept').twin.desired.properties).toEqual({ x: 1 });
    expect(hub.recording.entries()).toEqual([]);
  });

  it('refuses keys the hub would refuse, naming the device', () => {
    expect(() => applySeed(hub, parseSeed({ devices: [{ deviceId: 'bad-key', primaryKey: 'short' }] }))).toThrow(
      /^device 'bad-key': The primary key must be a base64-encoded value/,
    );
  });
});
