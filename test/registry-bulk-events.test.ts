import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub } from './support/hub-factory.js';
import { Registry } from './support/job-helpers.js';
import { rest } from './support/sdk.js';

// Bulk registry writes go through the registry's one unit of work: one transaction, then one
// event per device, so the recording and the metrics see devices added with Registry.addDevices
// as they see devices added one by one.

let hub: Hub;
let registry: InstanceType<typeof Registry>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = Registry.fromConnectionString(hub.connectionString());
});

afterAll(async () => {
  await hub?.stop();
});

const totalDevices = async (): Promise<number> => {
  const { text } = await rest(hub, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith('totalDeviceCount '));
  return Number(line?.split(' ')[1]);
};

describe('Registry.addDevices and removeDevices', () => {
  it('show every device in the recording and the metrics, like single creates', async () => {
    await registry.create({ deviceId: 'single-1' });
    const bulk = Array.from({ length: 30 }, (_, i) => ({ deviceId: `bulk-${i}` }));
    const added = await registry.addDevices(bulk);
    expect(added.responseBody.isSuccessful).toBe(true);

    const { status, json } = await rest(hub, 'GET', '/$emulator/recording?kind=device');
    expect(status).toBe(200);
    const created = (json.entries as { deviceId: string; event: string }[]).filter((e) => e.event === 'created').map((e) => e.deviceId);
    expect(created).toEqual(['single-1', ...bulk.map((d) => d.deviceId)]);
    expect(await totalDevices()).toBe(31);

    await registry.removeDevices(bulk.slice(0, 10), true);
    const after = await rest(hub, 'GET', '/$emulator/recording?kind=device');
    const deleted = (after.json.entries as { deviceId: string; event: string }[]).filter((e) => e.event === 'deleted').map((e) => e.deviceId);
    expect(deleted).toEqual(bulk.slice(0, 10).map((d) => d.deviceId));
    expect(await totalDevices()).toBe(21);
  });

  it('commits a bulk call with creates and deletes as one unit: the store holds exactly what it answered', async () => {
    // One array mixing both: the successful items land together, the failing one alone is refused.
    const body = [
      { id: 'mixed-new', importMode: 'create' },
      { id: 'bulk-20', importMode: 'delete' },
      { id: 'no-such-device', importMode: 'delete' },
    ];
    const answer = await rest(hub, 'POST', '/devices?api-version=2021-04-12', body);
    expect(answer.status).toBe(400);
    expect(answer.json.errors).toEqual([expect.objectContaining({ deviceId: 'no-such-device', errorCode: 'DeviceNotFound' })]);
    expect(hub.registry.find('mixed-new')).toBeDefined();
    expect(hub.registry.find('bulk-20')).toBeUndefined();
    const entries = (await rest(hub, 'GET', '/$emulator/recording?kind=device')).json.entries as { deviceId: string; event: string }[];
    expect(entries.slice(-2).map((e) => `${e.event}:${e.deviceId}`)).toEqual(['created:mixed-new', 'deleted:bulk-20']);
  });
});
