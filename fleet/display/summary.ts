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
  // Where the hub said no on purpose (a throttled tier, the daily quota), and how often devices came back.
  if (c.throttled || c.quotaExceeded) parts.push(`hub refused ${n(c.throttled)} throttled${c.quotaExceeded ? ` / ${n(c.quotaExceeded)} over quota` : ''}`);
  if (c.drops) parts.push(`churn ${n(c.drops)} drops`);
  if (c.connectionsLost) parts.push(`reconnects ${n(c.reconnects)}`);
  parts.push(`up ${formatDuration(upMs)}`);
  return parts.join(' · ');
}

/** The connect phase: how far, how many failed, how fast. */
export function connectingLine(c: Counters, ratePerSecond: number): string {
  const target = c.devices - c.neverConnect;
  return `connecting ${n(c.everConnected)}/${n(target)} · ${n(c.connectFailures)} failed · ${n(Math.round(ratePerSecond))}/s`;
}
