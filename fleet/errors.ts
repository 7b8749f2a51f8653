/** Why a fleet could not start, with the exit code the CLI uses for it. */
export type FleetErrorKind = 'config' | 'unreachable' | 'unauthorized' | 'hub' | 'devices' | 'busy';

export const EXIT_CODES: Readonly<Record<FleetErrorKind, number>> = { config: 2, unreachable: 3, unauthorized: 4, hub: 5, devices: 6, busy: 7 };

export class FleetError extends Error {
  constructor(
    readonly kind: FleetErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'FleetError';
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}
