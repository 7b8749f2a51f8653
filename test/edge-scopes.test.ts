import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { registryFor, rest } from './support/sdk.js';

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

type Json = Record<string, any>;
const device = async (id: string): Promise<Json> => (await registry.get(id)).responseBody as Json;
const put = (id: string, body: object, ifMatch?: string) =>
  rest(hub, 'PUT', `/devices/${id}?api-version=2021-04-12`, { deviceId: id, ...body }, ifMatch ? { 'if-match': ifMatch } : {});

describe('IoT Edge device scopes', () => {
  it('gives an edge device its own scope ms-azure-iot-edge://{deviceId}-{generationId}', async () => {
    const edge = (await registry.create({ deviceId: 'gw-1', capabilities: { iotEdge: true } } as never)).responseBody as Json;
    expect(edge.deviceScope).toBe(`ms-azure-iot-edge://gw-1-${edge.generationId}`);
    expect(edge.parentScopes).toEqual([]);
    const twin = (await registry.getTwin('gw-1')).responseBody as Json;
    expect(twin.deviceScope).toBe(edge.deviceScope);
    expect(twin.capabilities).toEqual({ iotEdge: true });
  });

  it("makes a leaf device a child by setting its deviceScope to the parent's; parentScopes follows", async () => {
    const parent = await device('gw-1');
    const child = (await registry.create({ deviceId: 'leaf-1', deviceScope: parent.deviceScope } as never)).responseBody as Json;
    expect(child.deviceScope).toBe(parent.deviceScope);
    expect(child.parentScopes).toEqual([parent.deviceScope]);
    // Moved out again: an empty scope clears both.
    const moved = (await registry.update({ ...child, deviceScope: '' } as never)).responseBody as Json;
    expect(moved.deviceScope).toBe('');
    expect(moved.parentScopes).toEqual([]);
    const query = await registry.createQuery(`SELECT * FROM devices WHERE deviceScope = '${parent.deviceScope}'`).nextAsTwin();
    expect(query.result.map((t) => t.deviceId)).toEqual(['gw-1']);
  });

  it('nests an edge device under another through parentScopes, refusing cycles and depth past five layers', async () => {
    const top = await device('gw-1');
    const mid = (await registry.create({ deviceId: 'gw-2', capabilities: { iotEdge: true }, parentScopes: [top.deviceScope] } as never)).responseBody as Json;
    expect(mid.parentScopes).toEqual([top.deviceScope]);
    expect(mid.deviceScope).toBe(`ms-azure-iot-edge://gw-2-${mid.generationId}`);
    // gw-1 under gw-2 would be a cycle.
    const cycle = await put('gw-1', { capabilities: { iotEdge: true }, parentScopes: [mid.deviceScope] }, '*');
    expect(cycle.status).toBe(400);
    expect(cycle.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    let parentScope = mid.deviceScope as string;
    for (const id of ['gw-3', 'gw-4', 'gw-5']) {
      const created = await put(id, { capabilities: { iotEdge: true }, parentScopes: [parentScope] });
      expect(created.status).toBe(200);
      parentScope = created.json.deviceScope;
    }
    const tooDeep = await put('gw-6', { capabilities: { iotEdge: true }, parentScopes: [parentScope] });
    expect(tooDeep.status).toBe(400);
    // A leaf under the deepest edge device is fine: leaves are not a layer.
    expect((await put('leaf-deep', { deviceScope: parentScope })).status).toBe(200);
  });

  it("answers 400 for a scope naming no device, a non-edge parent, two parents, or changing an edge device's own scope", async () => {
    const plain = (await registry.create({ deviceId: 'plain-1' })).responseBody as Json;
    expect(plain).not.toHaveProperty('parentScopes');
    const unknown = await put('leaf-x', { deviceScope: 'ms-azure-iot-edge://ghost-123' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.Message).toMatch(/not the scope of any device/);
    const fakeScope = await put('leaf-y', { deviceScope: 'ms-azure-iot-edge://plain-1-1' });
    expect(fakeScope.status).toBe(400);
    const top = await device('gw-1');
    const mid = await device('gw-2');
    const twoParents = await put('gw-7', { capabilities: { iotEdge: true }, parentScopes: [top.deviceScope, mid.deviceScope] });
    expect(twoParents.status).toBe(400);
    const ownScope = await put('gw-1', { capabilities: { iotEdge: true }, deviceScope: mid.deviceScope }, '*');
    expect(ownScope.status).toBe(400);
    expect((await device('gw-1')).deviceScope).toBe(top.deviceScope);
    const leafWithParents = await put('leaf-z', { parentScopes: [top.deviceScope] });
    expect(leafWithParents.status).toBe(400);
  });
});
