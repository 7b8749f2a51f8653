// The demo fleet's flag, apart from demo.ts so the CLI can check it without loading the fleet.

export const MAX_DEMO_FLEET = 1000;
/** Not the fleet command's `lockdoor-`: `iothub-emulator fleet` next to `npm start` must not take over the demo's ids. */
export const DEMO_PREFIX = 'demo-';

/** `--demo-fleet <n>`: a small whole number, checked before the emulator starts. */
export function demoFleetSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > MAX_DEMO_FLEET) throw new Error(`--demo-fleet: '${value}' is not a number of devices from 0 to ${MAX_DEMO_FLEET}`);
  return n;
}
