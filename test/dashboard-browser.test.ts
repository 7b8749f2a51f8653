import device from 'azure-iot-device';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../dashboard/index.js';
import type { Hub } from '../cli/start-hub.js';
import { launchChromium, screenshot } from './support/browser.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor, rest } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

/**
 * The dashboard end to end: a real hub, real SDK devices (azure-iot-device over MQTT/TLS) and the
 * built page in headless Chromium. Every check is something a person would see on the page.
 */
const assetsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/dashboard/web');
const poll = { timeout: 15_000, interval: 100 };

let hub: Hub;
let dashboard: Dashboard;
let browser: Browser;
let page: Page;
let door: InstanceType<typeof device.Client>;
// A few more devices that talk, so the hub page's charts and the pictures in docs/ show traffic.
const chatty: InstanceType<typeof device.Client>[] = [];
let chatter: NodeJS.Timeout | undefined;
const desiredSeen: Record<string, unknown>[] = [];
const methodRequests: unknown[] = [];

beforeAll(async () => {
  if (!existsSync(path.join(assetsDir, 'index.html'))) throw new Error('the dashboard is not built: run npm run build');
  hub = await startTestHub();
  dashboard = await startDashboard(hub, { host: hub.options.host, port: 0, assetsDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('dialog', (dialog) => void dialog.accept());
  const registry = registryFor(hub);
  await registry.addDevices(Array.from({ length: 24 }, (_, i) => ({ deviceId: `dash-sensor-${String(i).padStart(2, '0')}`, status: 'enabled' as const })));
  await createDevice(hub, 'dash-door');
  // Modules on one device, so the table's Modules column (and its picture) shows some.
  for (const moduleId of ['gateway', 'camera']) await registry.addModule({ deviceId: 'dash-sensor-00', moduleId } as never);
  for (let i = 0; i < 3; i++) chatty.push(await openDevice(hub.deviceConnectionString(`dash-sensor-0${i}`)));
  let n = 0;
  chatter = setInterval(() => {
    for (const client of chatty) void client.sendEvent(new device.Message(JSON.stringify({ temperature: 20 + (n++ % 7) / 2 }))).catch(() => undefined);
  }, 250);
}, 60_000);

afterAll(async () => {
  clearInterval(chatter);
  await Promise.all(chatty.map((c) => c.close().catch(() => undefined)));
  await door?.close().catch(() => undefined);
  await browser?.close();
  await dashboard?.stop();
  await hub?.stop();
});

const rowOf = (id: string) => page.locator(`tr[data-device-id="${id}"]`);
const nav = (name: string) => page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true });

// Each test is a user's sequence of page steps, each step allowed `poll.timeout`: with Chromium,
// the hub and the other test files on two shared cores, a sequence can outlast vitest's 30 s.
describe('dashboard in a browser', { timeout: 120_000 }, () => {
  it('lists the registered devices and shows a device connecting without a reload', async () => {
    await page.goto(`${dashboard.url}devices`);
    await expect.poll(() => page.locator('tr[data-device-id]').count(), poll).toBe(25);
    await expect.poll(() => rowOf('dash-door').locator('[data-state]').getAttribute('data-state'), poll).toBe('Disconnected');
    await expect.poll(() => rowOf('dash-sensor-00').locator('[data-state]').getAttribute('data-state'), poll).toBe('Connected');
    await expect.poll(() => page.getByText('1–25 of 25').count(), poll).toBe(1);
    expect(await rowOf('dash-sensor-00').locator('[data-col="modules"]').textContent()).toBe('2');

    door = await openDevice(hub.deviceConnectionString('dash-door'));
    const twin = await door.getTwin();
    twin.on('properties.desired', (delta: Record<string, unknown>) => desiredSeen.push(delta));
    door.onDeviceMethod('lockDoor', (request, response) => {
      methodRequests.push(request.payload);
      response.send(200, { locked: true, by: (request.payload as { by?: string } | null)?.by ?? null });
    });
    await waitUntil(() => hub.connections.isSubscribed('dash-door', 'methods'), 5000, 'methods subscription');

    // The same page, never reloaded: the live stream turns the row green.
    await expect.poll(() => rowOf('dash-door').locator('[data-state]').getAttribute('data-state'), poll).toBe('Connected');

    // "/" jumps to the filter, as in most tools with a list.
    await page.keyboard.press('/');
    expect(await page.getByLabel('Filter by device ID').evaluate((el) => el.ownerDocument.activeElement === el)).toBe(true);
    await page.keyboard.type('sensor-1');
    await expect.poll(() => page.locator('tr[data-device-id]').count(), poll).toBe(10);
    await page.getByLabel('Filter by device ID').fill('');
    await expect.poll(() => page.locator('tr[data-device-id]').count(), poll).toBe(25);
    await screenshot(page, 'devices');
  });

  it('sends a twin edit to the device, and shows the hub refusing a bad one', async () => {
    await rowOf('dash-door').getByRole('link', { name: 'dash-door' }).click();
    await page.waitForURL(/\/devices\/dash-door$/);
    await expect.poll(() => page.locator('h1').textContent(), poll).toBe('dash-door');
    const editor = page.getByLabel(/Patch tags and desired properties/);
    await expect.poll(() => editor.inputValue(), poll).toContain('"desired"');

    await editor.fill(JSON.stringify({ tags: { building: '43' }, properties: { desired: { colour: 'blue' } } }));
    await page.getByRole('button', { name: 'Send patch' }).click();
    await waitUntil(() => desiredSeen.some((d) => d.colour === 'blue'), 10_000, "the device's desired listener to get colour=blue");
    expect(desiredSeen.at(-1)).toMatchObject({ colour: 'blue', $version: 2 });
    await expect.poll(() => page.locator('.twin-editor [role="status"]').textContent(), poll).toContain('Saved');
    await expect.poll(() => page.locator('.twin-json').textContent(), poll).toContain('"building": "43"');

    // A key IoT Hub forbids ('.' inside a property name): the hub's 400 and its words on the page.
    await editor.fill(JSON.stringify({ properties: { desired: { 'bad.key': 1 } } }));
    await page.getByRole('button', { name: 'Send patch' }).click();
    const alert = page.locator('.twin-editor [role="alert"]');
    await expect.poll(() => alert.textContent(), poll).toContain('400 ArgumentInvalid');
    expect(await alert.textContent()).toContain("Twin property name 'properties.desired.bad.key' contains a forbidden character");
    expect(desiredSeen.some((d) => 'bad.key' in d)).toBe(false);

    // An edit made on a twin that changed meanwhile is refused as the hub refuses a stale If-Match.
    await editor.fill(JSON.stringify({ properties: { desired: { colour: 'green' } } }));
    await registryFor(hub).updateTwin('dash-door', { properties: { desired: { mode: 'eco' } } }, '*');
    await waitUntil(() => desiredSeen.some((d) => d.mode === 'eco'), 10_000, 'the service-side patch');
    await page.getByRole('button', { name: 'Send patch' }).click();
    await expect.poll(() => alert.textContent(), poll).toContain('412 PreconditionFailed');
    expect(desiredSeen.some((d) => d.colour === 'green')).toBe(false);
  });

  it("invokes a direct method from the form and shows the device's answer", async () => {
    await page.getByLabel('Payload (JSON)').fill('{"by":"dashboard"}');
    await page.getByRole('button', { name: 'Invoke method' }).click();
    await expect.poll(() => page.getByTestId('method-status').textContent(), poll).toContain('status 200');
    expect(await page.locator('.method-payload').textContent()).toContain('"by": "dashboard"');
    expect(methodRequests).toContainEqual({ by: 'dashboard' });
  });

  it('shows telemetry the device sends on its page, with its properties', async () => {
    const message = new device.Message(JSON.stringify({ temperature: 21.5, humidity: 40 }));
    message.properties.add('alert', 'none');
    await door.sendEvent(message);
    const feed = page.getByRole('list', { name: 'Telemetry' });
    await expect.poll(() => feed.textContent(), poll).toContain('"temperature":21.5');
    expect(await feed.textContent()).toContain('alert=none');
    await expect.poll(() => page.getByRole('list', { name: 'Connection events' }).textContent(), poll).toContain('Connected');
    for (let i = 0; i < 4; i++) await door.sendEvent(new device.Message(JSON.stringify({ temperature: 21.5 + i / 10, humidity: 40 + i })));
    await expect.poll(() => feed.locator('li').count(), poll).toBe(5);
    await screenshot(page, 'device');
  });

  it('schedules a method job from the page and follows it to completed', async () => {
    await nav('Jobs').click();
    await page.waitForURL(/\/jobs$/);
    await page.getByLabel('Job ID').fill('dash-lock-job');
    await page.getByLabel('Query condition').fill("deviceId = 'dash-door'");
    await page.getByLabel('Method name').fill('lockDoor');
    await page.getByLabel('Payload (JSON)').fill('{"by":"job"}');
    await page.getByRole('button', { name: 'Schedule job' }).click();
    const row = page.locator('tr[data-job-id="dash-lock-job"]');
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status'), poll).toBe('completed');
    await expect.poll(() => row.getByTestId('job-stats').textContent(), poll).toContain('1 ok · 0 failed · 0 left of 1');
    expect(methodRequests).toContainEqual({ by: 'job' });
    // Per-device results open with the job (it was just scheduled).
    const results = page.getByRole('table', { name: 'Device results of dash-lock-job' });
    await expect.poll(() => results.textContent(), poll).toContain('dash-door');
    await expect.poll(() => results.textContent(), poll).toContain('200 {"locked":true,"by":"job"}');
    await screenshot(page, 'jobs');
  });

  it('cancels a job scheduled for later', async () => {
    await page.getByLabel('Job ID').fill('dash-later-job');
    await page.getByLabel('Query condition').fill('*');
    const inAnHour = new Date(Date.now() + 3_600_000);
    const p = (n: number): string => String(n).padStart(2, '0');
    await page
      .getByLabel(/Start time/)
      .fill(`${inAnHour.getFullYear()}-${p(inAnHour.getMonth() + 1)}-${p(inAnHour.getDate())}T${p(inAnHour.getHours())}:${p(inAnHour.getMinutes())}:00`);
    await page.getByRole('button', { name: 'Schedule job' }).click();
    const row = page.locator('tr[data-job-id="dash-later-job"]');
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status'), poll).toBe('scheduled');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status'), poll).toBe('cancelled');
    expect(hub.scheduler.get('dash-later-job').status).toBe('cancelled');
  });

  it('runs a query as a table and points at the error of a bad one', async () => {
    await nav('Query').click();
    await page.waitForURL(/\/query/);
    const text = page.getByLabel('Query', { exact: true });
    await text.fill("SELECT * FROM devices WHERE tags.building = '43'");
    await page.getByRole('button', { name: 'Run query' }).click();
    const results = page.getByRole('table', { name: 'Query results' });
    await expect.poll(() => results.locator('tbody tr').count(), poll).toBe(1);
    expect(await results.textContent()).toContain('dash-door');

    await text.fill('SELECT * FROM devices WHER');
    await page.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(() => page.locator('[role="alert"]').textContent(), poll).toContain('400 ArgumentInvalid');
    expect(await page.locator('[role="alert"]').textContent()).toContain("The query is invalid. Syntax error at position 22 near 'WHER'");
    expect(await page.locator('.caret').getAttribute('aria-label')).toBe('error at position 22');

    await text.fill('SELECT COUNT() AS devices, connectionState FROM devices GROUP BY connectionState');
    await page.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(() => results.locator('tbody tr').count(), poll).toBe(2);
    await screenshot(page, 'query');
  });

  it('shows the hub figures and moves the emulator clock', async () => {
    await nav('Hub').click();
    await page.waitForURL(/\/$/);
    await expect.poll(() => page.getByLabel('Devices registered').textContent(), poll).toContain('25');
    await expect.poll(() => page.getByLabel('Connected', { exact: true }).textContent(), poll).toContain('4');
    await expect.poll(async () => Number(await page.getByLabel('Messages / s').locator('.stat-value').textContent()), poll).toBeGreaterThan(0);
    const before = hub.clock.offset;
    await page.getByRole('button', { name: '+1 h' }).click();
    await expect.poll(() => hub.clock.offset - before, poll).toBe(3_600_000);
    await expect.poll(() => page.locator('.clock').textContent(), poll).toContain('3,600 s ahead');
    // Let the charts gather a few seconds of samples before the picture.
    await expect.poll(() => page.locator('.chart canvas').count(), poll).toBe(3);
    await page.waitForFunction(() => performance.now() > 6000);
    const file = await screenshot(page, 'hub');
    expect(statSync(file).size).toBeGreaterThan(10_000);
  });

  it('adds a fault rule from the page, shows a refused one in the hub’s words, and removes it', async () => {
    await nav('Faults').click();
    await page.waitForURL(/\/faults$/);
    const editor = page.getByLabel(/^Rule \(JSON/);
    await editor.fill(JSON.stringify({ kind: 'failOperations', operation: 'methods', status: 500, target: { deviceId: 'dash-door' } }));
    await page.getByRole('button', { name: 'Add rule' }).click();
    await expect.poll(() => hub.faults.list().length, poll).toBe(1);
    const id = hub.faults.list()[0]!.id;
    await expect.poll(() => page.locator(`tr[data-rule-id="${id}"]`).textContent(), poll).toContain('failOperations');
    // The rule is real: a back end's call to the device's method now fails as the rule says.
    const call = await rest(hub, 'POST', '/twins/dash-door/methods?api-version=2021-04-12', {
      methodName: 'lockDoor',
      payload: null,
      responseTimeoutInSeconds: 5,
    });
    expect(call.status).toBe(500);

    await editor.fill(JSON.stringify({ kind: 'failOperations', operation: 'teleport' }));
    await page.getByRole('button', { name: 'Add rule' }).click();
    const alert = page.locator('[role="alert"]');
    await expect.poll(() => alert.textContent(), poll).toContain('400 ArgumentInvalid');
    expect(await alert.textContent()).toContain('operation');
    await expect.poll(() => page.getByText('Off: the emulator answers as fast as it can.').count(), poll).toBe(1);
    // The Faults picture is taken on a hub with a tier (dashboard-device-parts.test.ts): it shows more.

    await page.getByRole('button', { name: `Remove rule ${id}` }).click();
    await expect.poll(() => hub.faults.list().length, poll).toBe(0);
    await expect.poll(() => page.getByText('No rules: nothing fails on purpose.').count(), poll).toBe(1);
  });

  it('creates, disables and deletes a device from the devices page', async () => {
    await nav('Devices').click();
    await page.getByLabel('New device ID').fill('dash-made-in-page');
    await page.getByRole('button', { name: 'Add device' }).click();
    await waitUntil(() => hub.registry.find('dash-made-in-page'), 10_000, 'the device to be created');
    await page.getByLabel('Filter by device ID').fill('made-in-page');
    await expect.poll(() => page.locator('tr[data-device-id]').count(), poll).toBe(1);
    await rowOf('dash-made-in-page').getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => hub.registry.find('dash-made-in-page')?.status, poll).toBe('disabled');
    await expect.poll(() => rowOf('dash-made-in-page').locator('[data-status]').getAttribute('data-status'), poll).toBe('disabled');
    await rowOf('dash-made-in-page').getByRole('button', { name: 'Delete dash-made-in-page' }).click();
    await expect.poll(() => hub.registry.find('dash-made-in-page'), poll).toBeUndefined();
    await expect.poll(() => page.getByText('No device matches the filter.').count(), poll).toBe(1);
  });
});
