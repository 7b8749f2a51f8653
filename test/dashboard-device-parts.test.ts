import device from 'azure-iot-device';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startDashboard, type Dashboard } from '../dashboard/index.js';
import { launchChromium, screenshot } from './support/browser.js';
import { c2dMessage, openServiceClient, type ServiceClientInstance } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor, rest, transports } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

/**
 * The device page's cloud-to-device form and modules, and the Faults page's throttling figures,
 * end to end: a real hub, azure-iot-device clients over MQTT/TLS (a device's 'message'
 * listener, a ModuleClient's method handler and desired listener) and the built page in
 * headless Chromium. Every check is something a person sees on the page or a client receives.
 */
const assetsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/dashboard/web');
// Generous: Chromium, the hub and the other test files share two cores.
const poll = { timeout: 20_000, interval: 100 };

type DeviceMessage = InstanceType<typeof device.Message>;
type Module = InstanceType<typeof device.ModuleClient>;

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(path.join(assetsDir, 'index.html'))) throw new Error('the dashboard is not built: run npm run build');
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}

describe('the device page: cloud-to-device messages and modules', { timeout: 180_000 }, () => {
  let hub: Hub;
  let dashboard: Dashboard;
  let page: Page;
  let service: ServiceClientInstance;
  let door: InstanceType<typeof device.Client> | undefined;
  let thermostat: Module | undefined;
  const received: DeviceMessage[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    dashboard = await startDashboard(hub, { host: hub.options.host, port: 0, assetsDir });
    page = await newPage();
    ({ client: service } = await openServiceClient(hub));
  }, 60_000);

  afterAll(async () => {
    await door?.close().catch(() => undefined);
    await thermostat?.close().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await page?.close();
    await dashboard?.stop();
    await hub?.stop();
  });

  const field = (label: string | RegExp) => page.locator('.c2d-form').getByLabel(label);
  const c2dAlert = () => page.locator('.c2d-form [role="alert"]');

  it("sends a message from the page to a device's 'message' listener, with its properties, id and ack, and follows it to completed", async () => {
    door = await openDevice(await createDevice(hub, 'c2d-door'));
    door.on('message', (m: DeviceMessage) => {
      received.push(m);
      void door!.complete(m);
    });
    await waitUntil(() => hub.connections.isSubscribed('c2d-door', 'c2d'), 10_000, "the device's C2D subscription");

    await page.goto(`${dashboard.url}devices/c2d-door`);
    await expect.poll(() => page.locator('h1').textContent(), poll).toBe('c2d-door');
    await expect.poll(() => page.getByRole('list', { name: 'Cloud-to-device messages' }).textContent(), poll).toContain('No messages sent');

    await field('Message body').fill('{"command":"unlock","door":3}');
    await field(/^Properties/).fill('priority=high\nsource = dashboard');
    await field('Message ID').fill('dash-msg-1');
    await field('Correlation ID').fill('corr-7');
    await field('Acknowledgement (feedback)').selectOption('full');
    await field('Expires after (s)').fill('600');
    await field('Content type').fill('application/json');
    await field('Content encoding').fill('utf-8');
    await page.getByRole('button', { name: 'Send message' }).click();

    await waitUntil(() => received.length === 1, 15_000, "the device's 'message' listener");
    const m = received[0]!;
    expect(JSON.parse(m.getBytes().toString())).toEqual({ command: 'unlock', door: 3 });
    expect(m.messageId).toBe('dash-msg-1');
    expect(m.correlationId).toBe('corr-7');
    expect(m.contentType).toBe('application/json');
    expect(m.contentEncoding).toBe('utf-8');
    expect(m.properties.getValue('priority')).toBe('high');
    expect(m.properties.getValue('source')).toBe('dashboard');
    expect(m.properties.getValue('iothub-ack')).toBe('full');
    expect(Date.parse(m.expiryTimeUtc as unknown as string) - Date.now()).toBeGreaterThan(500_000);

    await expect.poll(() => page.getByTestId('c2d-result').textContent(), poll).toMatch(/^Queued dash-msg-1 · \d of 50 waiting/);
    // The device completed it (MQTT PUBACK): the history shows both steps, live.
    const history = page.getByRole('list', { name: 'Cloud-to-device messages' });
    await expect.poll(() => history.locator('[data-status="completed"]').count(), poll).toBe(1);
    expect(await history.locator('[data-status="sent"]').textContent()).toBe('sent');
    expect(await history.textContent()).toContain('priority=high');
    await expect.poll(() => page.getByTestId('c2d-pending').textContent(), poll).toBe('0 waiting');

    // A message id that looks like a UUID, made by the page.
    await page.locator('.c2d-form').getByRole('button', { name: 'New ID' }).click();
    const uuid = await field('Message ID').inputValue();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    await field(/^Properties/).fill('');
    await page.getByRole('button', { name: 'Send message' }).click();
    await waitUntil(() => received.length === 2, 15_000, 'the second message');
    expect(received[1]!.messageId).toBe(uuid);

    // From the keyboard alone: Tab moves from the body to the properties, Ctrl+Enter sends.
    await field('Message ID').fill('');
    await field('Message body').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('typed');
    await page.keyboard.press('Tab');
    expect(await field(/^Properties/).evaluate((el) => el.ownerDocument.activeElement === el)).toBe(true);
    await page.keyboard.type('via=keyboard');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Control+Enter');
    await waitUntil(() => received.length === 3, 15_000, 'the message sent from the keyboard');
    expect(received[2]!.getBytes().toString()).toBe('typed');
    expect(received[2]!.properties.getValue('via')).toBe('keyboard');
  });

  it('shows the hub refusing a message: a full queue (403004), a bad property line, a device that is gone (404001); purges the queue', async () => {
    await createDevice(hub, 'c2d-offline');
    // 50 messages from a back end, through azure-iothub's Client.send over AMQP: the queue is full.
    for (let i = 0; i < 50; i++) await service.send('c2d-offline', c2dMessage(`backlog ${i}`));
    await page.goto(`${dashboard.url}devices/c2d-offline`);
    await expect.poll(() => page.getByTestId('c2d-pending').textContent(), poll).toBe('50 waiting');

    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => c2dAlert().textContent(), poll).toContain('403 DeviceMaximumQueueDepthExceeded (403004)');
    expect(await c2dAlert().textContent()).toContain("The maximum number of messages (50) queued for device 'c2d-offline' has been reached.");
    expect(hub.c2d.pending('c2d-offline')).toBe(50);

    await field(/^Properties/).fill('no equals sign');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => c2dAlert().textContent(), poll).toContain("Property line 1 ('no equals sign') is not name=value.");
    await field(/^Properties/).fill('');

    await page.getByRole('button', { name: 'Purge queue' }).click();
    await expect.poll(() => page.getByTestId('c2d-result').textContent(), poll).toBe('Purged 50 message(s)');
    await expect.poll(() => page.getByTestId('c2d-pending').textContent(), poll).toBe('0 waiting');
    expect(hub.c2d.pending('c2d-offline')).toBe(0);
    const history = page.getByRole('list', { name: 'Cloud-to-device messages' });
    await expect.poll(() => history.locator('[data-status="purged"]').count(), poll).toBeGreaterThan(0);

    // The device is deleted behind the page's back: the next send gets the hub's 404.
    await registryFor(hub).delete('c2d-offline');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => c2dAlert().textContent(), poll).toContain('404 DeviceNotFound (404001)');
  });

  it("lists a device's modules with their connection state live, and opens a module's twin and direct method", async () => {
    await createDevice(hub, 'edge-box');
    const registry = registryFor(hub);
    await registry.addModule({ deviceId: 'edge-box', moduleId: 'thermostat' } as never);
    await registry.addModule({ deviceId: 'edge-box', moduleId: 'camera', managedBy: 'team-video' } as never);

    // The devices table counts them.
    await page.goto(`${dashboard.url}devices`);
    const row = page.locator('tr[data-device-id="edge-box"]');
    await expect.poll(() => row.locator('[data-col="modules"]').textContent(), poll).toBe('2');

    await row.getByRole('link', { name: 'edge-box' }).click();
    await page.waitForURL(/\/devices\/edge-box$/);
    const modules = page.getByRole('table', { name: 'Modules' });
    await expect.poll(() => modules.locator('tr[data-module-id]').count(), poll).toBe(2);
    expect(await page.getByTestId('module-count').textContent()).toBe('2');
    const thermoRow = modules.locator('tr[data-module-id="thermostat"]');
    expect(await thermoRow.locator('[data-state]').getAttribute('data-state')).toBe('Disconnected');
    expect(await modules.locator('tr[data-module-id="camera"]').textContent()).toContain('team-video');

    // A ModuleClient connects while the page is open: its row turns Connected without a reload.
    const methodCalls: unknown[] = [];
    const desired: Record<string, unknown>[] = [];
    thermostat = device.ModuleClient.fromConnectionString(hub.moduleConnectionString('edge-box', 'thermostat'), transports.Mqtt);
    await thermostat.open();
    thermostat.onMethod('setPoint', (request, response) => {
      methodCalls.push(request!.payload);
      void response!.send(200, { accepted: true, target: (request!.payload as { celsius?: number } | null)?.celsius ?? null });
    });
    const twin = await thermostat.getTwin();
    twin.on('properties.desired', (delta: Record<string, unknown>) => desired.push(delta));
    await waitUntil(() => hub.connections.isSubscribed('edge-box/thermostat', 'methods'), 10_000, "the module's methods subscription");
    await expect.poll(() => thermoRow.locator('[data-state]').getAttribute('data-state'), poll).toBe('Connected');
    // The device itself is still disconnected: a module is its own identity.
    expect(await page.locator('.title-row [data-state]').getAttribute('data-state')).toBe('Disconnected');

    // Add a module from the page, and have the hub refuse a taken id.
    await page.getByLabel('New module ID').fill('logger');
    await page.getByRole('button', { name: 'Add module' }).click();
    await expect.poll(() => modules.locator('tr[data-module-id]').count(), poll).toBe(3);
    expect(hub.registry.getModule('edge-box', 'logger').moduleId).toBe('logger');
    // A module a back end adds or removes while the page is open appears and goes without a reload.
    await registry.addModule({ deviceId: 'edge-box', moduleId: 'from-sdk' } as never);
    await expect.poll(() => modules.locator('tr[data-module-id]').count(), poll).toBe(4);
    await registry.removeModule('edge-box', 'from-sdk');
    await expect.poll(() => modules.locator('tr[data-module-id]').count(), poll).toBe(3);
    await page.getByLabel('New module ID').fill('camera');
    await page.getByRole('button', { name: 'Add module' }).click();
    await expect.poll(() => page.locator('.card [role="alert"]').first().textContent(), poll).toContain('409 ModuleAlreadyExistsOnDevice');

    // The module's page: its method form reaches the ModuleClient, its twin editor its desired listener.
    await thermoRow.getByRole('link', { name: 'thermostat' }).click();
    await page.waitForURL(/\/devices\/edge-box\/modules\/thermostat$/);
    await expect.poll(() => page.locator('h1').textContent(), poll).toBe('thermostat');
    await expect.poll(() => page.locator('.title-row [data-state]').getAttribute('data-state'), poll).toBe('Connected');
    await page.getByLabel('Method name').fill('setPoint');
    await page.getByLabel('Payload (JSON)').fill('{"celsius":21}');
    await page.getByRole('button', { name: 'Invoke method' }).click();
    await expect.poll(() => page.getByTestId('method-status').textContent(), poll).toContain('status 200');
    expect(await page.locator('.method-payload').textContent()).toContain('"target": 21');
    expect(methodCalls).toEqual([{ celsius: 21 }]);

    const editor = page.getByLabel(/Patch tags and desired properties/);
    await expect.poll(() => editor.inputValue(), poll).toContain('"desired"');
    await editor.fill(JSON.stringify({ properties: { desired: { fanSpeed: 3 } } }));
    await page.getByRole('button', { name: 'Send patch' }).click();
    await waitUntil(() => desired.some((d) => d.fanSpeed === 3), 15_000, "the module's desired listener to get fanSpeed=3");
    await expect.poll(() => page.locator('.twin-json').textContent(), poll).toContain('"fanSpeed": 3');
    expect((hub.twins.get('edge-box') as { properties: { desired: Record<string, unknown> } }).properties.desired.fanSpeed).toBeUndefined();

    // A method no handler answers on another module: the hub's 404 DeviceNotOnline (the module is not connected).
    await page.goto(`${dashboard.url}devices/edge-box/modules/camera`);
    await expect.poll(() => page.locator('h1').textContent(), poll).toBe('camera');
    await page.getByLabel('Method name').fill('snapshot');
    await page.getByRole('button', { name: 'Invoke method' }).click();
    await expect.poll(() => page.locator('.method-form [role="alert"]').textContent(), poll).toContain('404 DeviceNotOnline (404103)');
  });

  it("reaches the pages from the keyboard, and a twin-update job scheduled from the Jobs page reaches the device's desired listener", async () => {
    if (!door) throw new Error('the first test did not run');
    const desired: Record<string, unknown>[] = [];
    (await door.getTwin()).on('properties.desired', (delta: Record<string, unknown>) => desired.push(delta));

    await page.goto(dashboard.url);
    await expect.poll(() => page.locator('h1').first().textContent(), poll).toBeTruthy();
    const focused = (): Promise<unknown> => page.evaluate('document.activeElement && (document.activeElement.id || document.activeElement.textContent)');
    // The skip link (the first stop on a page) leads past the sidebar with Enter.
    await page.locator('a.skip').focus();
    expect(await focused()).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await expect.poll(focused, poll).toBe('main');
    // The sidebar's links take Tab (here Shift+Tab back from the page) and Enter.
    for (let i = 0; i < 10 && (await focused()) !== 'Jobs'; i++) await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Jobs');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/jobs$/);

    await page.getByLabel('Twin update').check();
    await page.getByLabel('Job ID').fill('dash-twin-job');
    await page.getByLabel('Query condition').fill("deviceId = 'c2d-door'");
    await page.getByLabel(/^Twin patch/).fill(JSON.stringify({ tags: { floor: 2 }, properties: { desired: { mode: 'night' } } }));
    await page.getByRole('button', { name: 'Schedule job' }).click();
    await waitUntil(() => desired.some((d) => d.mode === 'night'), 20_000, "the device's desired listener to get mode=night from the job");
    const row = page.locator('tr[data-job-id="dash-twin-job"]');
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status'), poll).toBe('completed');
    await expect.poll(() => row.getByTestId('job-stats').textContent(), poll).toContain('1 ok · 0 failed · 0 left of 1');
    expect((hub.twins.get('c2d-door') as { tags: Record<string, unknown> }).tags).toEqual({ floor: 2 });
  });

  it('takes the pictures of the device page (with messages and modules) and a module page', async () => {
    if (!door) throw new Error('the first test did not run');
    // Telemetry from the device and its module, so the picture shows a page in use.
    for (let i = 0; i < 3; i++) await door.sendEvent(new device.Message(JSON.stringify({ battery: 90 - i })));
    await registryFor(hub).addModule({ deviceId: 'c2d-door', moduleId: 'keypad' } as never);
    await page.goto(`${dashboard.url}devices/c2d-door`);
    await expect.poll(() => page.getByRole('table', { name: 'Modules' }).locator('tr[data-module-id]').count(), poll).toBe(1);
    await expect.poll(() => page.getByRole('list', { name: 'Telemetry' }).locator('li.feed-item').count(), poll).toBe(3);
    await expect.poll(() => page.getByRole('list', { name: 'Cloud-to-device messages' }).locator('li.feed-item').count(), poll).toBe(6);
    await screenshot(page, 'device-c2d');

    for (let i = 0; i < 3; i++) await thermostat!.sendEvent(new device.Message(JSON.stringify({ celsius: 20.5 + i / 10 })));
    await page.goto(`${dashboard.url}devices/edge-box/modules/thermostat`);
    await expect.poll(() => page.getByRole('list', { name: 'Telemetry' }).locator('li.feed-item').count(), poll).toBe(3);
    await page.getByLabel('Method name').fill('setPoint');
    await page.getByLabel('Payload (JSON)').fill('{"celsius":22.5}');
    await page.getByRole('button', { name: 'Invoke method' }).click();
    await expect.poll(() => page.getByTestId('method-status').textContent(), poll).toContain('status 200');
    await screenshot(page, 'module');
  });
});

describe('the Faults page on a hub with a tier', { timeout: 180_000 }, () => {
  let hub: Hub;
  let dashboard: Dashboard;
  let page: Page;

  beforeAll(async () => {
    hub = await startTestHub({ tier: 'S1', units: 1 });
    dashboard = await startDashboard(hub, { host: hub.options.host, port: 0, assetsDir });
    page = await newPage();
  }, 60_000);

  afterAll(async () => {
    await page?.close();
    await dashboard?.stop();
    await hub?.stop();
  });

  it("counts the tier's refusals live, as /metrics does, and shows the day's quota", async () => {
    await page.goto(`${dashboard.url}faults`);
    await expect.poll(() => page.locator('.card').getByText(/^Tier/).textContent(), poll).toContain('S1');
    const queries = page.locator('tr[data-operation="query"]');
    await expect.poll(() => queries.locator('[data-outcome="throttled"]').textContent(), poll).toBe('0');
    await expect.poll(() => page.getByTestId('quota').textContent(), poll).toContain('of 400,000 messages used');

    // Queries are 20 a minute on S1: a burst of 40 is partly answered, partly refused with 429.
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => rest(hub, 'POST', '/devices/query?api-version=2021-04-12', { query: 'SELECT * FROM devices' })),
    );
    const refused = answers.filter((a) => a.status === 429).length;
    expect(refused).toBeGreaterThan(0);
    await expect.poll(() => queries.locator('[data-outcome="throttled"]').textContent(), poll).toBe(String(refused));
    const metrics = (await (await fetch(`${dashboard.url}api/faults`)).json()) as { throttled: { counts: unknown[] } };
    expect(metrics.throttled.counts).toContainEqual({ operation: 'query', outcome: 'throttled', count: refused });
  });

  it('adds two rules from the page and removes them all', async () => {
    const editor = page.getByLabel(/^Rule \(JSON/);
    await page.getByLabel('Kind').selectOption('dropTelemetry');
    await expect.poll(() => editor.inputValue(), poll).toContain('dropTelemetry');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByLabel('Kind').selectOption('refuseConnects');
    await expect.poll(() => editor.inputValue(), poll).toContain('refuseConnects');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await expect.poll(() => hub.faults.list().map((r) => r.kind), poll).toEqual(['dropTelemetry', 'refuseConnects']);
    await expect.poll(() => page.locator('tr[data-rule-id]').count(), poll).toBe(2);
    await screenshot(page, 'faults');

    await page.getByRole('button', { name: 'Remove all' }).click();
    await expect.poll(() => hub.faults.list().length, poll).toBe(0);
    await expect.poll(() => page.getByText('No rules: nothing fails on purpose.').count(), poll).toBe(1);
  });
});
