import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runFuzz } from '../bench/fuzz/runner.js';
import type { FuzzTarget } from '../bench/fuzz/target.js';
import { exited, startArgs, startEmulatorCli } from './support/cli-process.js';

// The short, fixed-seed run of our fuzz suite (docs/protocol.md §14); `npm run bench -- fuzz`
// runs the long one. The emulator is a child process so its descriptors and memory can be read.
// A failure prints the findings with the seed, batch and fast-check path that reproduce each.
const SEED = Number(process.env.IOTHUB_EMULATOR_FUZZ_SEED ?? 17);
let emulator: Awaited<ReturnType<typeof startEmulatorCli>>;
let target: FuzzTarget;

beforeAll(async () => {
  const certDir = process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!;
  emulator = await startEmulatorCli((h) => [
    ...startArgs(h, path.join(certDir, '..'), { inMemory: true }),
    '--mqtt-plain-port',
    '1883',
    '--tls-handshake-timeout',
    '2',
  ]);
  const child = emulator.child;
  target = {
    host: emulator.host,
    hostName: emulator.host,
    ca: readFileSync(path.join(certDir, 'ca.pem'), 'utf8'),
    httpsPort: 443,
    mqttPort: 8883,
    plainPort: 1883,
    pid: child.pid!,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
});
afterAll(() => {
  if (emulator && emulator.child.exitCode === null && emulator.child.signalCode === null) emulator.child.kill('SIGKILL');
});

it('survives seeded MQTT, REST and query inputs with every invariant holding after each batch', async () => {
  const report = await runFuzz(target, { seed: SEED, batches: 3, mqttPerBatch: 24, restPerBatch: 60, queryPerBatch: 40, settleMs: 10_000 });
  expect(report.findings, JSON.stringify(report.findings, null, 2)).toEqual([]);
  expect(report.inputs.mqtt).toBe(72);
  expect(report.inputs.rest).toBeGreaterThanOrEqual(180);
  expect(report.inputs.query).toBeGreaterThanOrEqual(120);
  expect(emulator.child.output()).not.toMatch(/unexpected error|uncaught/i);
}, 180_000);

it('then stops on SIGINT at once: no connection the fuzz left behind holds it open', async () => {
  emulator.child.kill('SIGINT');
  expect(await exited(emulator.child, 10_000)).toBe(0);
});
