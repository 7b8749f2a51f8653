import { formatDuration } from '../scenario/duration.js';
import { errorCount, type Counters } from '../runner/fleet-stats.js';

const n = (value: number): string => value.toLocaleString('en-US');

/** The one line a running fleet shows: connected, methods answered, twin patches, telemetry sent, errors. */
export function summaryLine(c: Counters, upMs: number): string {
  const target = c.devices - c.neverConnect;
  const parts = [
    `connected ${n(c.connected)}/${n(target)}`,
    `methods ${n(c.methodResponses)}${c.methodErrorResponses ? ` (${n(c.methodErrorResponses)} as errors)` : ''}`,
    `twin patches ${n(c.desiredPatches)} in / ${n(c.reportedPatches)} out`,
    `telemetry ${n(c.telemetrySent)}`,
    `errors ${n(errorCount(c))}`,
  ];
  if (c.drops) parts.push(`churn ${n(c.drops)} drops`);
  parts.push(`up ${formatDuration(upMs)}`);
  return parts.join(' · ');
}

/** The connect phase: how far, how many failed, how fast. */
export function connectingLine(c: Counters, ratePerSecond: number): string {
  const target = c.devices - c.neverConnect;
  return `connecting ${n(c.everConnected)}/${n(target)} · ${n(c.connectFailures)} failed · ${n(Math.round(ratePerSecond))}/s`;
}
