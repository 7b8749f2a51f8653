import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventHubConsumerClient } from '@azure/event-hubs';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, runCli, startArgs, startEmulatorCli, waitForHealth } from './support/cli-process.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-amqp-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const OWNER_KEY = 'rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=';

describe('the command line for AMQP and the Event Hubs-compatible endpoint', () => {
  it('documents each new flag with its environment variable', async () => {
    const help = runCli(['start', '--help']);
    expect(await exited(help)).toBe(0);
    for (const [flag, variable] of [
      ['--amqp-port', 'IOTHUB_EMULATOR_AMQP_PORT'],
      ['--amqp-plain-port', 'IOTHUB_EMULATOR_AMQP_PLAIN_PORT'],
      ['--partitions', 'IOTHUB_EMULATOR_PARTITIONS'],
      ['--event-hub-name', 'IOTHUB_EMULATOR_EVENT_HUB_NAME'],
      ['--retention-hours', 'IOTHUB_EMULATOR_RETENTION_HOURS'],
      ['--retention-mb', 'IOTHUB_EMULATOR_RETENTION_MB'],
    ]) {
      expect(help.output()).toContain(flag);
      expect(help.output().replace(/\s+/g, '')).toContain(variable);
    }
  });

  it('connection-string --event-hubs prints the portal form', async () => {
    const printed = runCli(['connection-string', '--event-hubs', '--hostname', 'myhub.azure-devices.net']);
    expect(await exited(printed)).toBe(0);
    expect(printed.output().trim()).toBe(
      `Endpoint=sb://myhub.azure-devices.net/;SharedAccessKeyName=iothubowner;SharedAccessKey=${OWNER_KEY};EntityPath=myhub`,
    );
    const plain = runCli(['connection-string', '--event-hubs', '--plain', '--policy', 'service']);
    expect(await exited(plain)).toBe(0);
    expect(plain.output().trim()).toMatch(/^Endpoint=sb:\/\/localhost:5672\/;SharedAccessKeyName=service;.*;EntityPath=localhost;UseDevelopmentEmulator=true$/);
  });

  it('the start banner prints the Event Hubs-compatible connection string on its own line, and it works', async () => {
    const { child, host } = await startEmulatorCli((h) => [...startArgs(h, dataDir, { inMemory: true }), '--partitions', '2', '--event-hub-name', 'door-hub']);
    try {
      await waitForHealth(host);
      const line = child
        .output()
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('Endpoint=sb://'));
      expect(line).toBe(`Endpoint=sb://${host}/;SharedAccessKeyName=iothubowner;SharedAccessKey=${OWNER_KEY};EntityPath=door-hub`);
      const consumer = new EventHubConsumerClient('$Default', line!, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
      try {
        expect(await consumer.getPartitionIds()).toEqual(['0', '1']);
      } finally {
        await consumer.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });
});
