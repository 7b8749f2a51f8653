import { DEFAULT_TOKEN_TTL_SECONDS } from './config.js';
import { deviceId, WHOLE } from './device-range.js';
import { startFleet, type RunningFleet } from './fleet.js';
import { defaultScenario } from './scenario/scenario.js';
import { DEMO_PREFIX } from './demo-size.js';

/** What the demo needs of the emulator it runs next to (structurally, the emulator's Hub). */
export interface DemoHub {
  readonly hostName: string;
  readonly httpsPort: number;
  readonly mqttPort: number;
  /** PEM of the emulator's CA, and where it is on disk */
  readonly ca: string;
  readonly caPath: string;
  connectionString(): string;
  serviceToken(): string;
}

export interface DemoFleet {
  readonly fleet: RunningFleet;
  stop(): Promise<void>;
}

export { DEMO_PREFIX, demoFleetSize, MAX_DEMO_FLEET } from './demo-size.js';

/**
 * `iothub-emulator start --demo-fleet 10`: lockDoor devices in the emulator's own process, then
 * commands a person can paste to call a method and to run a job against them. A failure is
 * reported and the emulator keeps running.
 */
export async function startDemoFleet(hub: DemoHub, devices: number, print: (text: string) => void = (t) => console.log(t)): Promise<DemoFleet | undefined> {
  if (devices <= 0) return undefined;
  let fleet: RunningFleet;
  try {
    fleet = await startFleet({
      connectionString: hub.connectionString(),
      ca: hub.ca,
      ports: { https: hub.httpsPort, mqtt: hub.mqttPort },
      engine: 'light',
      devices,
      prefix: DEMO_PREFIX,
      shard: WHOLE,
      workers: 0,
      tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
      durationMs: 0,
      scenario: defaultScenario,
    });
    await fleet.ramped;
  } catch (error) {
    print(`demo fleet: could not start: ${(error as Error).message}`);
    return undefined;
  }
  print(demoInstructions(hub, devices));
  return {
    fleet,
    async stop() {
      await fleet.stop();
    },
  };
}

/** The ready-to-paste commands: curl with a SAS, the service SDK, and a job over the whole fleet. */
export function demoInstructions(hub: DemoHub, devices: number): string {
  const first = deviceId(DEMO_PREFIX, 0, devices);
  const last = deviceId(DEMO_PREFIX, devices - 1, devices);
  const origin = `https://${hub.hostName}${hub.httpsPort === 443 ? '' : `:${hub.httpsPort}`}`;
  const body = JSON.stringify({ methodName: 'lockDoor', payload: { by: 'curl' }, responseTimeoutInSeconds: 10 });
  const env = `NODE_EXTRA_CA_CERTS=${hub.caPath} IOTHUB_CONNECTION_STRING='${hub.connectionString()}'`;
  return [
    `Demo fleet: ${devices} lockDoor device${devices === 1 ? '' : 's'} connected (${first}${devices > 1 ? ` … ${last}` : ''}). They answer lockDoor and unlockDoor,`,
    'report doorState, lastLockedAt and firmware, and report back any desired property you set.',
    '',
    `Lock ${first} with curl (the SAS token is valid for an hour):`,
    `  curl -sS --cacert ${hub.caPath} -X POST '${origin}/twins/${first}/methods?api-version=2021-04-12' \\`,
    `    -H 'Authorization: ${hub.serviceToken()}' \\`,
    `    -H 'Content-Type: application/json' -d '${body}'`,
    '',
    'Or with the service SDK (from a directory where azure-iothub is installed, e.g. this repository):',
    `  ${env} node -e "require('azure-iothub').Client.fromConnectionString(process.env.IOTHUB_CONNECTION_STRING).invokeDeviceMethod('${first}', { methodName: 'lockDoor', payload: { by: 'sdk' } }).then((r) => console.log(r.result))"`,
    '',
    'Lock every door with a scheduled job, and wait for it (paste all the lines):',
    `${env} node <<'EOF'`,
    `const { JobClient } = require('azure-iothub');`,
    `const jobs = JobClient.fromConnectionString(process.env.IOTHUB_CONNECTION_STRING);`,
    `const jobId = 'lock-all-' + Date.now();`,
    `(async () => {`,
    `  await jobs.scheduleDeviceMethod(jobId, "STARTSWITH(deviceId, '${DEMO_PREFIX}')", { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 15 }, new Date(), 120);`,
    `  let job;`,
    `  do { await new Promise((r) => setTimeout(r, 500)); job = (await jobs.getJob(jobId)).jobStatus; } while (!['completed', 'failed', 'cancelled'].includes(job.status));`,
    `  console.log(job.status, job.deviceJobStatistics);`,
    `})();`,
    `EOF`,
    '',
  ].join('\n');
}
