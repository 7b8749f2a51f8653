import type iothub from 'azure-iothub';
import { spawn } from 'node:child_process';
import { cpuSeconds } from './floor-compare.js';
import { inParallel } from './mqtt-devices.js';

/** The scale benches' registered device n: a small twin (three tags, one desired property). */
export const scaleDeviceId = (n: number): string => `scale-${String(n).padStart(7, '0')}`;

export function smallTwinDevice(n: number): Record<string, unknown> {
  return {
    deviceId: scaleDeviceId(n),
    status: 'enabled',
    tags: { building: String(n % 100), floor: Math.floor(n / 100) % 20, model: ['lock-a', 'lock-b', 'lock-c'][n % 3] },
    properties: { desired: { mode: n % 2 === 0 ? 'day' : 'night' } },
  };
}

/** Registers devices [first, first + count) through Registry.addDevices, 100 per call (the hub's limit), 8 calls in flight. */
export async function addDevicesInBulk(registry: iothub.Registry, first: number, count: number, check = true): Promise<void> {
  await inParallel(8, Math.ceil(count / 100), async (batch) => {
    const devices = Array.from({ length: Math.min(100, count - batch * 100) }, (_, j) => smallTwinDevice(first + batch * 100 + j));
    const { responseBody } = await registry.addDevices(devices as iothub.Registry.DeviceDescription[]);
    if (check && !responseBody.isSuccessful) throw new Error(`addDevices: ${JSON.stringify(responseBody.errors).slice(0, 300)}`);
  });
}

/**
 * The floor under bulk registration: the same Registry.addDevices calls (100 devices each, 8 in
 * flight, the same bodies) answered by a bare HTTPS server in a process of its own on the hub's
 * address and certificate, which reads each body and answers success. What is left is the SDK,
 * TLS and HTTP on both sides: the part of "end to end" that is not the emulator. Devices/s, and
 * the bare server's own CPU per device (its TLS and HTTP: what the emulator cannot go below).
 */
export async function registrationFloor(
  host: string,
  serverTls: { key: Buffer; cert: Buffer },
  registry: iothub.Registry,
  devices: number,
): Promise<{ rate: number; serverCpuUs: number }> {
  const script = `
    const https = require('node:https'); const fs = require('node:fs');
    const answer = JSON.stringify({ isSuccessful: true, errors: [], warnings: [] });
    const tls = JSON.parse(fs.readFileSync(0, 'utf8'));
    https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const chunks = []; req.on('data', (c) => chunks.push(c));
      req.on('end', () => { Buffer.concat(chunks); res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }); res.end(answer); });
    }).listen(443, process.argv[1], () => console.log('ready'));`;
  const child = spawn(process.execPath, ['-e', script, host], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.end(JSON.stringify({ key: serverTls.key.toString(), cert: serverTls.cert.toString() }));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the floor server exited with code ${code}`)));
    });
    const cpuBefore = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await addDevicesInBulk(registry, 0, devices, false);
    const rate = devices / ((performance.now() - t0) / 1000);
    return { rate, serverCpuUs: ((cpuSeconds(child.pid!) - cpuBefore) * 1e6) / devices };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}
