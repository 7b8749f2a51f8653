import type { Logger } from 'pino';
import { openHub, startEmulator as startEmulatorWith, type Emulator, type Hub as EmulatorHub, type HubOptions, type JobsFactory, type RecordingOptions, type StartEmulatorOptions } from '../emulator/index.js';
import { JobStore } from '../scheduler/job-store.js';
import { Scheduler } from '../scheduler/scheduler.js';

/** The hub with its scheduler: what `iothub-emulator start`, startHub() and startEmulator() run. */
export interface Hub extends EmulatorHub {
  readonly scheduler: Scheduler;
}

/** The scheduler as the hub's jobs component, on the hub's services and storage. */
function schedulerFor(built: (scheduler: Scheduler) => void): JobsFactory {
  return (host) => {
    const scheduler = new Scheduler(
      { store: new JobStore(host.storage), selection: host.selection, twins: host.twins, methods: host.methods, clock: host.clock, events: host.events, log: host.log, pace: host.jobDevicePace },
      { maxActiveJobs: host.maxActiveJobs },
    );
    built(scheduler);
    return scheduler;
  };
}

/** Starts the hub with jobs v2: the emulator, composed with the scheduler. */
export async function startHub(partial: Partial<HubOptions & RecordingOptions> = {}, logger?: Logger): Promise<Hub> {
  let scheduler: Scheduler | undefined;
  const hub = await openHub(partial, { logger, jobs: schedulerFor((s) => (scheduler = s)) });
  return Object.assign(hub, { scheduler: scheduler! });
}

/** An emulator inside a test process (emulator/testing), with the scheduler like every other way to start one. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator & { readonly hub: Hub }> {
  let scheduler: Scheduler | undefined;
  const emulator = await startEmulatorWith(options, { jobs: schedulerFor((s) => (scheduler = s)) });
  Object.assign(emulator.hub, { scheduler: scheduler! });
  return emulator as Emulator & { readonly hub: Hub };
}
