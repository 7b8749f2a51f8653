import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice } from './support/sdk.js';

// docs/event-hubs.md promises a ready-to-paste consumer: this runs the block exactly as printed.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docs = readFileSync(path.join(root, 'docs/event-hubs.md'), 'utf8');
const example = /\*\*`read-telemetry\.mjs`\*\*[\s\S]*?```js\n([\s\S]*?)```/.exec(docs)?.[1];
// Inside node_modules/.cache so the example resolves @azure/event-hubs as a user's project would.
const dir = path.join(root, 'node_modules', '.cache', `iothub-emulator-docs-${process.pid}`);

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub();
  mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/event-hubs.md', () => {
  it('the ready-to-paste consumer prints what a device sends', async () => {
    expect(example).toBeDefined();
    const file = path.join(dir, 'read-telemetry.mjs');
    writeFileSync(file, example!);
    const client = await openDevice(await createDevice(hub, 'docs-door'));
    const message = new device.Message(JSON.stringify({ locked: true }));
    message.properties.add('alert', 'yes');
    await client.sendEvent(message);
    await client.close();
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, EVENTHUB_CONNECTION_STRING: hub.eventHubConnectionString() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await expect.poll(() => output, { timeout: 20_000 }).toMatch(/from docs-door: \{"locked":true\} \{ alert: 'yes' \}/);
    } finally {
      child.kill('SIGINT');
    }
  });
});
