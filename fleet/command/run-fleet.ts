import { writeFileSync } from 'node:fs';
import { deviceId, rangeSize } from '../device-range.js';
import { EXIT_CODES, FleetError } from '../errors.js';
import { startFleet, type RunningFleet } from '../fleet.js';
import { ProgressDisplay } from '../display/progress-display.js';
import type { FleetReport } from '../report.js';
import { formatDuration } from '../scenario/duration.js';
import { describeScenario } from '../scenario/scenario.js';
import type { CommandOptions } from './resolve-config.js';

const TICK_MS = 250;
const DUPLICATE_SIGNAL_MS = 500;

/** `iothub-emulator fleet`: register, connect with a live display, run until stopped, report. Returns the exit code. */
export async function runFleet(options: CommandOptions, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { config } = options;
  const display = new ProgressDisplay(options.progress, err);
  const say = (text: string): void => display.message(text);

  let stopReason: string | undefined;
  let requestStop!: (reason: string) => void;
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = (reason) => {
      stopReason ??= reason;
      resolve(reason);
    };
  });
  // A second Ctrl-C while devices disconnect gives up on a clean goodbye. But one Ctrl-C under
  // `npx`/`npm exec` arrives twice: from the terminal (to the whole process group) and forwarded
  // by npm to its child a moment later, so the same signal again within DUPLICATE_SIGNAL_MS is
  // that one Ctrl-C, not a second.
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopReason) {
      if (performance.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      process.exit(130);
    }
    firstSignalAt = performance.now();
    requestStop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let fleet: RunningFleet;
  try {
    const host = /HostName=([^;]+)/i.exec(config.connectionString)?.[1];
    say(
      `fleet: ${config.devices.toLocaleString('en-US')} lockDoor devices (${config.engine} engine) on ${host}, shard ${config.shard.index}/${config.shard.count}`,
    );
    for (const line of describeScenario(config.scenario)) say(`  ${line}`);
    fleet = await startFleet(config, {
      onShardClaimed: (shard) => say(`claimed shard ${shard.index}/${shard.count}`),
      onRegistered: (done, total) => display.registering(done, total),
    });
  } catch (error) {
    display.stop();
    err.write(`iothub-emulator fleet: ${(error as Error).message}\n`);
    return error instanceof FleetError ? error.exitCode : 1;
  }

  const first = deviceId(config.prefix, fleet.range.start, config.devices);
  const last = deviceId(config.prefix, fleet.range.end - 1, config.devices);
  say(
    `registered ${rangeSize(fleet.range).toLocaleString('en-US')} devices ${first} … ${last}${config.workers ? ` across ${config.workers} worker process(es)` : ''}`,
  );

  const began = performance.now();
  let ramped = false;
  const ticker = setInterval(() => {
    const { counters } = fleet.stats();
    if (ramped) display.running(counters, performance.now() - began);
    else display.connecting(counters);
  }, TICK_MS);
  const durationTimer = config.durationMs > 0 ? setTimeout(() => requestStop(`ran for ${formatDuration(config.durationMs)}`), config.durationMs) : undefined;

  let exitCode = 0;
  const outcome = await Promise.race([
    fleet.ramped.then(
      (ms) => ({ ms }),
      (error: Error) => ({ error }),
    ),
    stopRequested.then(() => undefined),
  ]);
  if (outcome && 'error' in outcome) {
    say(`iothub-emulator fleet: ${outcome.error.message}`);
    exitCode = 1;
    requestStop('a worker failed');
  } else if (outcome) {
    ramped = true;
    const { counters, recentErrors } = fleet.stats();
    const target = counters.devices - counters.neverConnect;
    if (target > 0 && counters.everConnected === 0) {
      say(
        `iothub-emulator fleet: no device could connect${recentErrors.length ? ` (${recentErrors[recentErrors.length - 1]})` : ''}; is the hub's MQTT port (8883) reachable?`,
      );
      exitCode = EXIT_CODES.devices;
      requestStop('no device connected');
    } else {
      const seconds = outcome.ms / 1000;
      say(
        `connected ${counters.everConnected.toLocaleString('en-US')}/${target.toLocaleString('en-US')} in ${seconds.toFixed(1)}s (${Math.round(counters.everConnected / Math.max(seconds, 0.001)).toLocaleString('en-US')}/s)${counters.connectFailures ? `, ${counters.connectFailures} failed attempts (retrying)` : ''}`,
      );
      say(
        `devices answer the lockDoor and unlockDoor direct methods; ${config.durationMs ? `stopping in ${formatDuration(config.durationMs)}` : 'Ctrl-C stops them'}`,
      );
    }
  }

  const reason = await stopRequested;
  clearInterval(ticker);
  clearTimeout(durationTimer);
  const connected = fleet.stats().counters.connected;
  say(`${reason}: disconnecting ${connected.toLocaleString('en-US')} devices`);
  const report = await fleet.stop();
  display.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  finalWords(report, err);
  if (options.reportFile) {
    writeFileSync(options.reportFile, `${JSON.stringify(report, null, 2)}\n`);
    err.write(`report written to ${options.reportFile}\n`);
  }
  return exitCode;
}

function finalWords(r: FleetReport, err: NodeJS.WriteStream): void {
  const o = r.methods.handlingOverheadMs;
  err.write(
    `${[
      `ran ${formatDuration(r.runSeconds * 1000)}: ${r.connect.everConnected} devices connected, ${r.methods.responses} method calls answered (${r.methods.errorResponses} as errors), ` +
        `${r.twin.desiredPatches} desired patches, ${r.twin.reportedPatches} reported patches, ${r.telemetry.sent} telemetry messages, ${r.errors.total} errors`,
      o.count ? `method handling overhead p50 ${o.p50}ms p99 ${o.p99}ms max ${o.max}ms` : '',
    ]
      .filter(Boolean)
      .join('\n')}\n`,
  );
}
