import os from 'node:os';
import path from 'node:path';

/** The environment variable that moves the user's CA (the `--ca-dir` flag's). */
export const CA_DIR_ENV = 'IOTHUB_EMULATOR_CA_DIR';

/**
 * One local CA per user, as mkcert keeps one: every data directory and every emulator on the
 * machine issues its server certificate from it, so one NODE_EXTRA_CA_CERTS line trusts them all.
 */
export function userCaDir(): string {
  return path.join(os.homedir(), '.iothub-emulator', 'ca');
}

/**
 * Where a hub's CA lives: `caDir` when given; else `certDir` (a directory asked to hold every
 * certificate, CA included, as before there was a per-user CA); else the user's CA.
 */
export function resolveCaDir(options: { caDir?: string; certDir?: string }): string {
  return path.resolve(options.caDir ?? options.certDir ?? userCaDir());
}
