import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { cpuSeconds } from './floor-compare.js';

export interface TlsFloor {
  /** emulator CPU per bare TLS handshake (resumed session), ms */
  connectCpuMs: number;
  /** emulator CPU per bare TLS socket closed by the client, ms */
  closeCpuMs: number;
  /** the resumable session the floor ended with, for clients that should resume alike */
  session: Buffer | undefined;
}

/**
 * The least a connection can cost the emulator: bare TLS sockets to its MQTT port, resumed as the
 * light engine resumes them (TLS 1.2, the session set before the handshake), no MQTT at all. The
 * same measurement as bench/fleet.ts's floor, plus the emulator's CPU for closing them.
 */
export async function measureTlsFloor(host: string, port: number, caPath: string, emulatorPid: number, sockets: number): Promise<TlsFloor> {
  const ca = readFileSync(caPath, 'utf8');
  const secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, ca], maxVersion: 'TLSv1.2' });
  const open: tls.TLSSocket[] = [];
  let session: Buffer | undefined;
  const cpuBefore = cpuSeconds(emulatorPid);
  for (let i = 0; i < sockets; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, sockets - i) },
        () =>
          new Promise<void>((resolve, reject) => {
            const socket = tls.connect({ host, port, secureContext, session });
            socket.once('session', (s: Buffer) => (session = s));
            socket.once('secureConnect', () => resolve());
            socket.once('error', reject);
            open.push(socket);
          }),
      ),
    );
  }
  const connectCpuMs = ((cpuSeconds(emulatorPid) - cpuBefore) * 1000) / sockets;
  await settle(emulatorPid);
  const closeBefore = cpuSeconds(emulatorPid);
  await Promise.all(
    open.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.destroy();
        }),
    ),
  );
  await settle(emulatorPid);
  const closeCpuMs = ((cpuSeconds(emulatorPid) - closeBefore) * 1000) / sockets;
  return { connectCpuMs, closeCpuMs, session };
}

/** Waits until the process has used no CPU for two consecutive 200 ms samples (or 10 s passed). */
export async function settle(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = cpuSeconds(pid);
  let quiet = 0;
  while (quiet < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuSeconds(pid);
    quiet = now - last <= 0.01 ? quiet + 1 : 0;
    last = now;
  }
}
