import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../fleet/command/resolve-config.js';
import { deviceId, parseShard, shardRange, splitRange } from '../fleet/device-range.js';
import { lockDoor } from '../fleet/devices/lock-door.js';
import { FleetError } from '../fleet/errors.js';
import { Pacer } from '../fleet/runner/pacer.js';
import { parseDistribution, sample } from '../fleet/scenario/distribution.js';
import { formatDuration, parseDuration } from '../fleet/scenario/duration.js';
import { deviceRandom, mulberry32 } from '../fleet/scenario/random.js';
import { compileTemplate } from '../fleet/scenario/telemetry-template.js';

const CS = 'HostName=hub.example;SharedAccessKeyName=iothubowner;SharedAccessKey=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

describe('device ids and shards', () => {
  it('pads indices to a fixed width so runs of different sizes share ids', () => {
    expect(deviceId('door-', 7, 10)).toBe('door-000007');
    expect(deviceId('door-', 7, 10_000)).toBe('door-000007');
    expect(deviceId('door-', 1_234_567, 2_000_000)).toBe('door-1234567');
  });

  it('splits a range into shards that cover it once, without overlap', () => {
    for (const [total, count] of [
      [10, 3],
      [10_000, 7],
      [5, 5],
      [1, 1],
    ] as const) {
      const seen = new Set<number>();
      for (let k = 1; k <= count; k++) {
        const { start, end } = shardRange(total, { index: k, count });
        for (let i = start; i < end; i++) {
          expect(seen.has(i)).toBe(false);
          seen.add(i);
        }
        expect(end - start).toBeGreaterThanOrEqual(Math.floor(total / count));
      }
      expect(seen.size).toBe(total);
    }
    expect(splitRange({ start: 100, end: 110 }, 2)).toEqual([
      { start: 100, end: 105 },
      { start: 105, end: 110 },
    ]);
  });

  it('reads k/n and auto/n, and refuses what is not a shard', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard('auto/4')).toEqual({ index: 'auto', count: 4 });
    for (const bad of ['0/3', '4/3', '1', 'a/b', '1/0']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });
});

describe('seeded randomness and distributions', () => {
  it('repeats a stream for the same seed, device and purpose, and only then', () => {
    const draw = (seed: number, index: number, purpose: string): number[] => {
      const r = deviceRandom(seed, index, purpose);
      return Array.from({ length: 5 }, () => r());
    };
    expect(draw(42, 3, 'methods')).toEqual(draw(42, 3, 'methods'));
    expect(draw(42, 3, 'methods')).not.toEqual(draw(43, 3, 'methods'));
    expect(draw(42, 3, 'methods')).not.toEqual(draw(42, 4, 'methods'));
    expect(draw(42, 3, 'methods')).not.toEqual(draw(42, 3, 'churn'));
  });

  it('formats durations without a 60 in the seconds or minutes place', () => {
    expect(formatDuration(119_600)).toBe('2m');
    expect(formatDuration(119_400)).toBe('1m59s');
    expect(formatDuration(59_700)).toBe('1m');
    expect(formatDuration(9_960)).toBe('10s');
    expect(formatDuration(3_599_700)).toBe('1h0m');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(250)).toBe('250ms');
  });

  it('reads durations and distributions in flag and file forms', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration(40)).toBe(40);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(parseDistribution('50ms', 'x')).toEqual({ kind: 'fixed', value: 50 });
    expect(parseDistribution('uniform:10ms,1s', 'x')).toEqual({ kind: 'uniform', min: 10, max: 1000 });
    expect(parseDistribution('normal:50,10', 'x')).toEqual({ kind: 'normal', mean: 50, stddev: 10 });
    expect(parseDistribution({ distribution: 'exponential', mean: '2s' }, 'x')).toEqual({ kind: 'exponential', mean: 2000 });
    expect(() => parseDistribution('zipf:1', 'x')).toThrow(/unknown distribution/);
    expect(() => parseDistribution('uniform:5,1', 'x')).toThrow(/below min/);
  });

  it('draws values whose averages match the distribution', () => {
    const random = mulberry32(7);
    const mean = (dist: Parameters<typeof sample>[0]): number => {
      let sum = 0;
      for (let i = 0; i < 20_000; i++) sum += sample(dist, random);
      return sum / 20_000;
    };
    expect(mean({ kind: 'uniform', min: 10, max: 30 })).toBeCloseTo(20, 0);
    expect(mean({ kind: 'normal', mean: 50, stddev: 5 })).toBeCloseTo(50, 0);
    expect(mean({ kind: 'exponential', mean: 40 })).toBeGreaterThan(38);
    expect(mean({ kind: 'exponential', mean: 40 })).toBeLessThan(42);
  });
});

describe('telemetry templates', () => {
  it('fills placeholders from the device, the clock, the seed and the behaviour', () => {
    const render = compileTemplate(
      '{"id":"{{deviceId}}","n":{{seq}},"at":"{{timestamp}}","door":"{{doorState}}","b":{{int 1 1}},"t":{{number 2 2}},"c":"{{pick x}}"}',
    );
    const text = render({ deviceId: 'd1', index: 0, seq: 3, now: Date.UTC(2026, 0, 2), random: mulberry32(1), state: { doorState: 'locked' } });
    expect(JSON.parse(text)).toEqual({ id: 'd1', n: 3, at: '2026-01-02T00:00:00.000Z', door: 'locked', b: 1, t: 2, c: 'x' });
    expect(() => compileTemplate('{{int 1}}')).toThrow(/two numbers/);
  });
});

describe('the lockDoor behaviour', () => {
  const create = () => lockDoor.create({ deviceId: 'door-1', index: 1, random: mulberry32(1), now: () => Date.UTC(2026, 0, 1) });

  it('locks on lockDoor, answers 200 with the state, and reports what changed', () => {
    const door = create();
    const outcome = door.onMethod('lockDoor', {});
    expect(outcome.result.status).toBe(200);
    expect(outcome.result.payload).toMatchObject({ doorState: 'locked', lockedAt: '2026-01-01T00:00:00.000Z' });
    expect(outcome.reported).toEqual({ doorState: 'locked', lastLockedAt: '2026-01-01T00:00:00.000Z' });
    expect(door.onMethod('unlockDoor', null).reported).toEqual({ doorState: 'unlocked' });
  });

  it('reports only what differs from the twin, resumes its state, and applies desired values set while away', () => {
    const door = create();
    const first = door.onTwin({ $version: 1 }, { $version: 1 });
    expect(first).toEqual({ deviceKind: 'lockDoor', doorState: 'unlocked', firmware: { version: '1.0.0' } });
    const again = create().onTwin({ $version: 1 }, { ...first, doorState: 'locked', $version: 2 });
    expect(again).toBeUndefined();
    const pending = create().onTwin({ doorState: 'locked', interval: 5, $version: 3 }, { ...first, $version: 2 });
    expect(pending).toMatchObject({ doorState: 'locked', interval: 5, lastLockedAt: '2026-01-01T00:00:00.000Z' });
  });

  it('reports a desired patch back, without its $version', () => {
    expect(create().onDesired({ interval: 10, nested: { a: 1 }, $version: 4 })).toEqual({ interval: 10, nested: { a: 1 } });
    expect(create().onDesired({ $version: 5 })).toBeUndefined();
  });
});

describe('the pacer', () => {
  it('keeps to the rate and the concurrency', async () => {
    const pacer = new Pacer(200, 3);
    let active = 0;
    let most = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 40 }, () =>
        pacer.run(async () => {
          active++;
          most = Math.max(most, active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
        }),
      ),
    );
    expect(most).toBeLessThanOrEqual(3);
    // 40 starts at 200/s take at least ~190 ms after the first token.
    expect(performance.now() - started).toBeGreaterThan(150);
  });

  it('refuses work once closed', async () => {
    const pacer = new Pacer(1, 1);
    const first = pacer.run(() => new Promise((r) => setTimeout(r, 50)));
    const queued = pacer.run(async () => 'ran');
    pacer.close();
    await expect(queued).rejects.toThrow(/stopping/);
    await first;
  });
});

describe('fleet settings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-settings-'));
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const resolveWith = (options: Record<string, unknown>, sources: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
    resolveConfig(options, (name) => sources[name], env);

  it('takes flags over the environment over the scenario file over defaults', () => {
    const scenario = file(
      'flaky.yaml',
      [
        'devices: 50',
        'prefix: yaml-',
        'seed: 9',
        'connect:',
        '  rate: 20',
        'methods:',
        '  latency: normal:40ms,5ms',
        '  errorProbability: 10%',
        'churn:',
        '  fraction: 0.25',
        '  downtime: 2s',
      ].join('\n'),
    );
    const { config } = resolveWith(
      { scenario, connectionString: CS, devices: '7', prefix: 'env-', seed: '3' },
      { scenario: 'cli', connectionString: 'cli', devices: 'cli', prefix: 'env', seed: 'default' },
    );
    expect(config.devices).toBe(7);
    expect(config.prefix).toBe('env-');
    expect(config.scenario.seed).toBe(9);
    expect(config.scenario.connect.rate).toBe(20);
    expect(config.scenario.methods.latency).toEqual({ kind: 'normal', mean: 40, stddev: 5 });
    expect(config.scenario.methods.errorProbability).toBeCloseTo(0.1);
    expect(config.scenario.churn).toMatchObject({ fraction: 0.25, downtime: { kind: 'fixed', value: 2000 } });
    expect(config.scenario.connect.concurrency).toBe(100);
  });

  it('reads JSON scenario files too, and refuses unknown keys', () => {
    const json = file('s.json', JSON.stringify({ devices: 3, telemetry: { interval: '5s' } }));
    expect(resolveWith({ scenario: json, connectionString: CS }, { scenario: 'cli', connectionString: 'cli' }).config.scenario.telemetry.interval).toBe(5000);
    const typo = file('typo.yaml', 'devcies: 3\nmethods:\n  latncy: 5ms\n');
    expect(() => resolveWith({ scenario: typo, connectionString: CS }, { scenario: 'cli', connectionString: 'cli' })).toThrow(
      /unknown setting\(s\) devcies, methods.latncy/,
    );
  });

  it('falls back to IOTHUB_CONNECTION_STRING and explains a missing hub', () => {
    expect(resolveWith({}, {}, { IOTHUB_CONNECTION_STRING: CS }).config.connectionString).toBe(CS);
    const missing = (() => {
      try {
        resolveWith({}, {});
      } catch (error) {
        return error as FleetError;
      }
    })();
    expect(missing).toBeInstanceOf(FleetError);
    expect(missing?.exitCode).toBe(2);
    expect(missing?.message).toMatch(/--connection-string or set IOTHUB_CONNECTION_STRING/);
  });

  it('names the flag that holds a bad value', () => {
    expect(() => resolveWith({ connectionString: CS, devices: 'many' }, { connectionString: 'cli', devices: 'cli' })).toThrow(/--devices: 'many'/);
    expect(() => resolveWith({ connectionString: CS, errorProbability: '2' }, { connectionString: 'cli', errorProbability: 'env' })).toThrow(
      /--error-probability/,
    );
    expect(() => resolveWith({ connectionString: CS, prefix: 'a/b' }, { connectionString: 'cli', prefix: 'cli' })).toThrow(/--prefix/);
  });

  it('adds a worker process per 15,000 devices of the shard', () => {
    const workers = (devices: string, shard = '1/1') =>
      resolveWith({ connectionString: CS, devices, shard }, { connectionString: 'cli', devices: 'cli', shard: 'cli' }).config.workers;
    expect(workers('10')).toBe(1);
    expect(workers('18000')).toBe(2);
    expect(workers('30000', '1/2')).toBe(1);
  });
});
