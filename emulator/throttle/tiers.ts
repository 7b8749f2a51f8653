/**
 * IoT Hub's operation throttles and daily message quota per tier and unit count
 * (docs/protocol.md §6 and §5.6, from the quotas-and-throttling page). Rates are per second for
 * the whole hub; `null` means the tier has no such limit. Basic tiers share the rates of the
 * standard tier of the same size (the page lists "Free, B1, S1 | B2, S2 | B3, S3").
 */
export const tierNames = ['F1', 'S1', 'S2', 'S3', 'B1', 'B2', 'B3'] as const;
export type TierName = (typeof tierNames)[number];

/** The operation classes the hub meters separately. */
export const throttledOperations = [
  'registry',
  'twinRead',
  'twinUpdate',
  'connect',
  'd2c',
  'c2d',
  'methods',
  'query',
  'jobs',
  'jobDevice',
  'configurations',
] as const;
export type ThrottledOperation = (typeof throttledOperations)[number];

export interface TierProfile {
  tier: TierName;
  units: number;
  /** operations per second (methods: 4 KB meter units per second) */
  rates: Record<ThrottledOperation, number>;
  /** jobs running at once */
  maxActiveJobs: number;
  /** metered messages per UTC day, and the size of one metered message */
  dailyMessages: number;
  meterBytes: number;
}

type Size = 1 | 2 | 3;

const sizeOf = (tier: TierName): Size => (tier === 'S3' || tier === 'B3' ? 3 : tier === 'S2' || tier === 'B2' ? 2 : 1);

/** The unit counts the hub sells: Free has exactly one, sizes 1 and 2 up to 200, size 3 up to 10. */
export function maxUnits(tier: TierName): number {
  if (tier === 'F1') return 1;
  return sizeOf(tier) === 3 ? 10 : 200;
}

export function tierProfile(tier: TierName, units: number): TierProfile {
  if (!Number.isInteger(units) || units < 1 || units > maxUnits(tier)) {
    throw new RangeError(`--units must be a whole number from 1 to ${maxUnits(tier)} for ${tier}`);
  }
  const size = sizeOf(tier);
  const u = units;
  const perUnit = (small: number, large: number): number => (size === 3 ? large : small) * u;
  const rates: Record<ThrottledOperation, number> = {
    registry: perUnit(100 / 60, 5000 / 60),
    connect: size === 1 ? Math.max(100, 12 * u) : size === 2 ? 120 * u : 6000 * u,
    d2c: size === 1 ? Math.max(100, 12 * u) : size === 2 ? 120 * u : 6000 * u,
    query: perUnit(20 / 60, 1000 / 60),
    c2d: perUnit(100 / 60, 5000 / 60),
    // Metered in 4 KB of request payload: 160 KB/s/unit on size 1 is 40 calls of ≤ 4 KB.
    methods: (size === 1 ? 40 : size === 2 ? 120 : 6000) * u,
    twinRead: size === 1 ? 100 : size === 2 ? Math.max(100, 10 * u) : 500 * u,
    twinUpdate: size === 1 ? 50 : size === 2 ? Math.max(50, 5 * u) : 250 * u,
    jobs: perUnit(100 / 60, 5000 / 60),
    jobDevice: size === 1 ? 10 : size === 2 ? Math.max(10, u) : 50 * u,
    configurations: (20 / 60) * u,
  };
  const dailyPerUnit = tier === 'F1' ? 8000 : size === 1 ? 400_000 : size === 2 ? 6_000_000 : 300_000_000;
  return {
    tier,
    units,
    rates,
    maxActiveJobs: size === 1 ? 1 : size === 2 ? 5 : 10,
    dailyMessages: dailyPerUnit * u,
    meterBytes: tier === 'F1' ? 512 : 4096,
  };
}

export function parseTier(value: string): TierName {
  const upper = value.trim().toUpperCase();
  const found = tierNames.find((t) => t === upper);
  if (!found) throw new RangeError(`--tier must be one of ${tierNames.join(', ')} (got '${value}')`);
  return found;
}
