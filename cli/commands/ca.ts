import { Option, type Command } from 'commander';
import path from 'node:path';
import { CA_DIR_ENV, resolveCaDir } from '../../emulator/client.js';

/** `iothub-emulator ca`: where the user's local CA is (created now if it is not yet), and the line that trusts it. */
export function registerCaCommand(program: Command): void {
  program
    .command('ca')
    .description('print where the local CA is (every emulator of this user issues its certificate from it) and the line that makes Node trust it')
    .addOption(new Option('--ca-dir <dir>', 'where the local CA lives').env(CA_DIR_ENV).default(undefined, '~/.iothub-emulator/ca'))
    .addOption(new Option('--cert-dir <dir>', 'an emulator started with --cert-dir keeps its CA there').env('IOTHUB_EMULATOR_CERT_DIR'))
    .option('--path', 'print only the path of ca.pem')
    .action(async (opts: { caDir?: string; certDir?: string; path?: boolean }) => {
      try {
        // Imported here: the X.509 library is the costliest part of the CLI's start-up, and only this command needs it.
        const { loadOrCreateCa } = await import('../../emulator/index.js');
        const { caPath } = await loadOrCreateCa(resolveCaDir(opts));
        if (opts.path) {
          console.log(caPath);
          return;
        }
        const trusted = process.env.NODE_EXTRA_CA_CERTS && path.resolve(process.env.NODE_EXTRA_CA_CERTS) === caPath;
        console.log(
          [
            `The emulator's local CA: ${caPath}`,
            'Every emulator you start issues its server certificate from it. Trust it once, in your shell profile or the shell that runs your SDK app:',
            `  export NODE_EXTRA_CA_CERTS=${caPath}`,
            ...(trusted ? ['(This shell already does.)'] : []),
          ].join('\n'),
        );
      } catch (error) {
        console.error(`iothub-emulator: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });
}
