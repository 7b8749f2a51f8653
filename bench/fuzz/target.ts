import { readdirSync, readFileSync } from 'node:fs';

/** The emulator under fuzz: a child process, so its descriptors and memory can be read from /proc. */
export interface FuzzTarget {
  host: string;
  hostName: string;
  /** PEM of the CA the emulator's certificate chains to */
  ca: string;
  httpsPort: number;
  mqttPort: number;
  /** its plain-TCP MQTT port (`--mqtt-plain-port`) */
  plainPort: number;
  pid: number;
  alive(): boolean;
}

export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function residentMegabytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}
