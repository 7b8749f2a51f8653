import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { clientCommand } from './support/cli-process.js';
import { startTestHub } from './support/hub-factory.js';

/** `iothub-emulator fault …` and `throttling`: the chaos API from the command line, as a user runs it. */
describe('iothub-emulator fault / throttling', () => {
  let hub: Hub;
  const folder = mkdtempSync(path.join(os.tmpdir(), 'cli-fault-'));
  const cli = clientCommand(folder, () => hub.options.host);

  beforeAll(async () => {
    hub = await startTestHub({ tier: 'S1', units: 2 });
  });
  afterAll(async () => {
    await hub?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('adds, lists, removes and clears rules, and answers a bad rule in the hub words with exit 1', async () => {
    const added = await cli('fault', 'add', '{"kind":"failOperations","operation":"methods","status":500,"fraction":0.5,"seed":1}');
    expect(added.code).toBe(0);
    const rule = JSON.parse(added.stdout);
    expect(rule).toMatchObject({ kind: 'failOperations', errorCode: 'ServerError', seed: 1 });
    expect(hub.faults.list().map((r) => r.id)).toEqual([rule.id]);

    const listed = await cli('fault', 'list', '--json');
    expect(JSON.parse(listed.stdout).map((r: { id: string }) => r.id)).toEqual([rule.id]);

    const bad = await cli('fault', 'add', '{"kind":"failOperations","operation":"methods","fraction":3,"status":500}');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/ArgumentInvalid: Fault rule field 'fraction'.*\(HTTP 400\)/);

    expect((await cli('fault', 'remove', rule.id)).code).toBe(0);
    expect(hub.faults.list()).toEqual([]);
    expect((await cli('fault', 'remove', rule.id)).code).toBe(1);
    await cli('fault', 'add', '{"kind":"refuseConnects","target":{"prefix":"cam-"}}');
    expect((await cli('fault', 'clear')).code).toBe(0);
    expect(hub.faults.list()).toEqual([]);
  });

  it('prints the tier in force, its rates and the quota', async () => {
    const shown = await cli('throttling', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      tier: 'S1',
      units: 2,
      maxActiveJobs: 1,
      dailyMessages: 800_000,
      ratesPerSecond: { twinUpdate: 50, connect: 100 },
    });
  });
});
