export const LOOPBACK_RANGE_ENV = 'IOTHUB_EMULATOR_LOOPBACK_RANGE';
export const DEFAULT_LOOPBACK_RANGE = '127.0.0.2-127.0.0.251';

/** `127.0.0.10-127.0.0.20` (or one address) → the last octets; loopback 127.0.0.x only. */
export function parseLoopbackRange(range: string): { low: number; high: number } {
  const octet = (address: string): number => {
    const match = /^127\.0\.0\.(\d{1,3})$/.exec(address.trim());
    const n = match ? Number(match[1]) : NaN;
    if (!(n >= 1 && n <= 254)) throw new Error(`loopbackRange: '${address.trim()}' is not an address 127.0.0.1 to 127.0.0.254`);
    return n;
  };
  const [from, to = from] = range.split('-');
  const low = octet(from!);
  const high = octet(to);
  if (high < low) throw new Error(`loopbackRange: '${range}' ends before it starts`);
  return { low, high };
}

/**
 * Starts something that must listen on 443 and 8883 (the service SDK cannot be pointed at another
 * port) on a loopback address no one else uses: each parallel test file gets its own 127.0.0.x.
 * Linux routes all of 127.0.0.0/8 to the loopback interface; macOS has only 127.0.0.1 unless
 * aliases are added, so there it falls back to 127.0.0.1 (one emulator at a time).
 */
export async function onFreeLoopbackAddress<T>(
  start: (host: string) => Promise<T>,
  range: string = process.env[LOOPBACK_RANGE_ENV] || DEFAULT_LOOPBACK_RANGE,
): Promise<T> {
  const { low, high } = parseLoopbackRange(range);
  const size = high - low + 1;
  const first = Math.floor(Math.random() * size);
  let lastError: unknown;
  for (let i = 0; i < size; i++) {
    const host = `127.0.0.${low + ((first + i) % size)}`;
    try {
      return await start(host);
    } catch (error) {
      lastError = error;
      const message = String((error as Error).message);
      if (/EADDRNOTAVAIL/.test(message)) return start('127.0.0.1');
      if (/EACCES/.test(message)) throw withPrivilegeHint(error as Error);
      if (!/EADDRINUSE/.test(message)) throw error;
    }
  }
  throw lastError;
}

function withPrivilegeHint(error: Error): Error {
  return new Error(
    `${error.message}\nThe emulator must listen on port 443 (the service SDK always calls it). Without root: ` +
      'sudo sysctl net.ipv4.ip_unprivileged_port_start=443, or sudo setcap cap_net_bind_service=+ep "$(readlink -f "$(which node)")" (see docs/testing.md)',
  );
}
