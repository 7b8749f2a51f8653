import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice } from './support/sdk.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docs = readFileSync(path.join(root, 'docs/cloud-to-device.md'), 'utf8');

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

describe('docs/cloud-to-device.md', () => {
  it('send-command.mjs runs as shown: the device gets the command and the back end its Success feedback', async () => {
    const code = /\*\*`send-command\.mjs`\*\*[^\n]*\n(?:[^\n]*\n)*?\n```js\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(code).toBeTruthy();
    const door = await openDevice(await createDevice(hub, 'door-1'));
    const got: string[] = [];
    door.on('message', (m: InstanceType<typeof device.Message>) => {
      got.push(`${m.messageId} ${m.getBytes().toString()} ${m.properties.getValue('priority')}`);
      void door.complete(m);
    });
    try {
      // NODE_EXTRA_CA_CERTS comes from the test setup, as the doc asks of the reader.
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code!], {
        cwd: root,
        env: { ...process.env, IOTHUB_CONNECTION_STRING: hub.connectionString(), DEVICE_ID: 'door-1' },
        timeout: 30_000,
      });
      expect(stdout).toContain('queued for door-1');
      expect(stdout).toContain('feedback for unlock-1: Success (Success)');
      expect(stdout).toContain('outcome: Success');
      expect(got).toEqual(['unlock-1 {"command":"unlock"} high']);
    } finally {
      await door.close();
    }
  });
});
