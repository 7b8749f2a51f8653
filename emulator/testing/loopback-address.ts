/**
 * Starts something that must listen on 443 and 8883 (the service SDK cannot be pointed at another
 * port) on a loopback address no one else uses: each parallel test file gets its own 127.0.0.x.
 * Linux routes all of 127.0.0.0/8 to the loopback interface; macOS has only 127.0.0.1 unless
 * aliases are added, so there it falls back to 127.0.0.1 (one emulator at a time).
 */
export async function onFreeLoopbackAddress<T>(start: (host: string) => Promise<T>): Promise<T> {
  const first = Math.floor(Math.random() * 250);
  let lastError: unknown;
  for (let i = 0; i < 250; i++) {
    const host = `127.0.0.${((first + i) % 250) + 2}`;
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
