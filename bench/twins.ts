import iothub from 'azure-iothub';
import type { MqttClient } from 'mqtt';
import { parseHubPublish, reportedPatchTopic, TWIN_RESPONSE_FILTER } from '../protocol/topics.js';
import { connectBareDevices } from './support/bare-hub.js';
import { ownerConnectionString, startBesideFloor } from './support/beside-floor.js';
import { compareWithFloor, DEFAULT_COMPARE, floorRows } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import { connectLeanDevices, disconnectAll } from './support/lean-devices.js';
import { provisionDevices, request } from './support/provision.js';

const HOST = '127.0.0.212';
const FLOOR_HOST = '127.0.0.213';
const FLEET = 1000;
const TARGETS = { p50: '≤ 1.2×', p99: '≤ 1.3×', throughput: '≥ 0.9×' };
// BENCH_TWINS_PATHS=get,patch,reported (any of them; default all): measure only those paths, to
// profile or re-measure one without the others' minutes.
const PATHS = new Set((process.env.BENCH_TWINS_PATHS ?? 'get,patch,reported').split(',').map((p) => p.trim()));

/**
 * The twin path beside its floor (bench/support/bare-hub.ts), each operation measured the same
 * way on both sides in alternating slices: `GET /twins/{id}` (Registry.getTwin), `PATCH
 * /twins/{id}` (Registry.updateTwin with a desired patch, etag `*`), and a device's reported
 * patch over MQTT (bare mqtt.js devices; publish, then wait for the 204 on the twin response
 * topic). The floor serves the emulator's own twin documents (copied over before the run), so
 * both serialise the same bytes; it has no store, no metadata, no versions beyond a counter.
 */
export const bench: Bench = {
  name: 'twins',
  description: 'twin reads and writes (service GET/PATCH, device reported PATCH over MQTT), beside a bare floor',
  async run() {
    const sides = await startBesideFloor(HOST, FLOOR_HOST);
    const { ca, emulator, floor, token } = sides;
    const rows: BenchRow[] = [];
    try {
      const ids = Array.from({ length: FLEET }, (_, i) => `bench-t-${String(i).padStart(5, '0')}`);
      const credentials = await provisionDevices(HOST, token, ids, (i) => ({ building: `b${i % 10}`, floor: i % 20 }));
      const registry = iothub.Registry.fromConnectionString(ownerConnectionString(HOST));
      const floorRegistry = iothub.Registry.fromConnectionString(ownerConnectionString(FLOOR_HOST));
      const fleet = await connectLeanDevices({ host: HOST, hostName: HOST, devices: credentials, ca });
      const floorFleet = await connectBareDevices(FLOOR_HOST, ca, ids);
      // a reported section of a realistic size, the same on both sides
      await Promise.all(fleet.map((d) => d.client.subscribeAsync(TWIN_RESPONSE_FILTER)));
      const reportedDriver = hubReported(fleet.map((d) => d.client));
      const floorReportedDriver = bareReported(floorFleet, ids);
      await Promise.all(ids.map((_, i) => reportedDriver(i)));
      for (const id of ids) {
        const twin = await request(HOST, token, 'GET', `/twins/${id}?api-version=2021-04-12`);
        await request(FLOOR_HOST, token, 'PUT', `/twins/${id}`, twin);
      }
      const sides = (op: (client: 'hub' | 'floor', i: number) => Promise<unknown>) =>
        [
          { pid: emulator.process.pid!, op: (i: number) => op('hub', i) },
          { pid: floor.pid, op: (i: number) => op('floor', i) },
        ] as const;

      if (PATHS.has('get')) {
        const get = sides((side, i) => (side === 'hub' ? registry : floorRegistry).getTwin(ids[i % FLEET]!));
        rows.push(...floorRows('GET /twins/{id}', await compareWithFloor(get[0], get[1]), TARGETS, DEFAULT_COMPARE.inFlight, FLEET));
      }

      if (PATHS.has('patch')) {
        const patch = sides((side, i) =>
          (side === 'hub' ? registry : floorRegistry).updateTwin(
            ids[i % FLEET]!,
            { properties: { desired: { lock: { mode: i % 2 ? 'auto' : 'manual', at: i } } } },
            '*',
          ),
        );
        rows.push(...floorRows('PATCH /twins/{id} (desired)', await compareWithFloor(patch[0], patch[1]), TARGETS, DEFAULT_COMPARE.inFlight, FLEET));
      }

      if (PATHS.has('reported')) {
        const reported = sides((side, i) => (side === 'hub' ? reportedDriver : floorReportedDriver)(i));
        rows.push(...floorRows('device reported PATCH (MQTT)', await compareWithFloor(reported[0], reported[1]), TARGETS, DEFAULT_COMPARE.inFlight, FLEET));
      }

      await disconnectAll(fleet);
      await Promise.all(floorFleet.map((c) => c.endAsync(true)));
    } finally {
      await sides.stop();
    }
    return rows;
  },
};

const reportedBody = (i: number): string => JSON.stringify({ battery: 100 - (i % 100), door: { locked: i % 2 === 0, changedAt: i }, firmware: '1.4.2' });

/** Reported patches from the emulator's devices (subscribed to twin/res): `$iothub/twin/PATCH/properties/reported/?$rid=`, answered on twin/res. */
function hubReported(clients: MqttClient[]): (i: number) => Promise<void> {
  const pending = new Map<string, () => void>();
  let nextRid = 1;
  for (const client of clients) {
    client.on('message', (topic) => {
      const message = parseHubPublish(topic);
      if (message?.kind !== 'twinResponse') return;
      const done = pending.get(message.rid);
      pending.delete(message.rid);
      done?.();
    });
  }
  return (i) => {
    const rid = String(nextRid++);
    const answered = awaitAnswer(pending, rid);
    clients[i % clients.length]!.publish(reportedPatchTopic(rid), reportedBody(i));
    return answered;
  };
}

/** The same from the floor's devices, on their own topics. */
function bareReported(clients: MqttClient[], ids: readonly string[]): (i: number) => Promise<void> {
  const pending = new Map<string, () => void>();
  let nextRid = 1;
  for (const client of clients) {
    client.on('message', (topic) => {
      if (!topic.includes('/twin/res/')) return;
      const rid = topic.slice(topic.lastIndexOf('/') + 1);
      const done = pending.get(rid);
      pending.delete(rid);
      done?.();
    });
  }
  return (i) => {
    const rid = String(nextRid++);
    const answered = awaitAnswer(pending, rid);
    const k = i % clients.length;
    clients[k]!.publish(`bare/${ids[k]}/reported/${rid}`, reportedBody(i));
    return answered;
  };
}

/** A bench must end by itself: an answer that never comes fails the run instead of hanging it. */
function awaitAnswer(pending: Map<string, () => void>, rid: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(rid);
      reject(new Error(`no answer to reported patch $rid=${rid} within 10 s`));
    }, 10_000);
    pending.set(rid, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
