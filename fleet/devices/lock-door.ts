import type { DeviceBehaviour, DeviceContext, DeviceKind, JsonObject, MethodOutcome } from './device-behaviour.js';

type DoorState = 'locked' | 'unlocked';

export const LOCK_DOOR_FIRMWARE = '1.0.0';

/**
 * The tutorial's door lock. `lockDoor` locks it and answers 200 with the new state; `unlockDoor`
 * does the opposite. Its reported properties (doorState, lastLockedAt, firmware) survive restarts
 * in the twin, and desired properties are acknowledged by reporting them back (a desired
 * `doorState` also moves the door).
 */
class LockDoor implements DeviceBehaviour {
  readonly methods = ['lockDoor', 'unlockDoor'] as const;
  private doorState: DoorState = 'unlocked';
  private lastLockedAt: string | null = null;

  constructor(private readonly context: DeviceContext) {}

  onTwin(desired: JsonObject, reported: JsonObject): JsonObject | undefined {
    // A device that ran before picks up where it left off.
    if (reported.doorState === 'locked' || reported.doorState === 'unlocked') this.doorState = reported.doorState;
    if (typeof reported.lastLockedAt === 'string') this.lastLockedAt = reported.lastLockedAt;
    // Desired values changed while the device was away are applied now.
    const pending: JsonObject = {};
    for (const [key, value] of Object.entries(desired)) {
      if (!key.startsWith('$') && JSON.stringify(value) !== JSON.stringify(reported[key])) pending[key] = value;
    }
    const patch: JsonObject = { ...(this.onDesired(pending) ?? {}) };
    // A null reported value would delete the property (twin patch semantics): leave it out until set.
    const state: JsonObject = { deviceKind: 'lockDoor', doorState: this.doorState, firmware: { version: LOCK_DOOR_FIRMWARE } };
    if (this.lastLockedAt) state.lastLockedAt = this.lastLockedAt;
    for (const [key, value] of Object.entries(state)) {
      if (!(key in patch) && JSON.stringify(value) !== JSON.stringify(reported[key])) patch[key] = value;
    }
    return Object.keys(patch).length ? patch : undefined;
  }

  onDesired(patch: JsonObject): JsonObject | undefined {
    const reported: JsonObject = {};
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$')) continue;
      reported[key] = value;
    }
    if (patch.doorState === 'locked' || patch.doorState === 'unlocked') Object.assign(reported, this.move(patch.doorState));
    return Object.keys(reported).length ? reported : undefined;
  }

  onMethod(name: string): MethodOutcome {
    const target: DoorState = name === 'unlockDoor' ? 'unlocked' : 'locked';
    const reported = this.move(target);
    const payload =
      target === 'locked'
        ? { doorState: 'locked', lockedAt: this.lastLockedAt, message: `Door ${this.context.deviceId} is locked` }
        : { doorState: 'unlocked', message: `Door ${this.context.deviceId} is unlocked` };
    return { result: { status: 200, payload }, reported };
  }

  templateValues(): Readonly<JsonObject> {
    return { doorState: this.doorState, lastLockedAt: this.lastLockedAt ?? '', firmware: LOCK_DOOR_FIRMWARE };
  }

  private move(target: DoorState): JsonObject {
    this.doorState = target;
    if (target === 'unlocked') return { doorState: target };
    this.lastLockedAt = new Date(this.context.now()).toISOString();
    return { doorState: target, lastLockedAt: this.lastLockedAt };
  }
}

export const lockDoor: DeviceKind = { name: 'lockDoor', create: (context) => new LockDoor(context) };
