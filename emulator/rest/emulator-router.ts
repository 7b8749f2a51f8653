import { Router } from 'express';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { isoTime } from '../time.js';
import { isJsonObject } from '../twin/json.js';
import { requires } from './authorization.js';
import { jsonBody } from './request.js';

/**
 * The emulator's own API. `/$emulator/` cannot clash with an IoT Hub path (the hub never uses a
 * `$` segment at the root). Any valid service SAS may call it: it changes nothing a device or
 * a twin holds, only the emulator's notion of "now" for jobs.
 */
export function emulatorRouter(auth: ServiceAuthenticator, clock: Clock): Router {
  const router = Router();
  const anyRight = requires(auth, 'RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect');

  router.get('/$emulator/clock', anyRight, (_req, res) => {
    res.json(clockView(clock));
  });

  // Moves the scheduler's clock forward: jobs whose start time or maxExecutionTimeInSeconds
  // falls inside the jump act at once. The clock never goes back.
  router.post('/$emulator/clock/advance', anyRight, (req, res) => {
    const body = jsonBody(req);
    const seconds = isJsonObject(body) ? body.seconds : undefined;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      throw new HubError('ArgumentInvalid', 'The body must be {"seconds": n} with n a number of seconds ≥ 0; the clock only moves forward.');
    }
    try {
      clock.advance(seconds * 1000);
    } catch (error) {
      // The clock holds its own cap (limits.ts); past it, the step is a bad argument.
      if (error instanceof RangeError) throw new HubError('ArgumentInvalid', error.message);
      throw error;
    }
    res.json(clockView(clock));
  });

  return router;
}

function clockView(clock: Clock): { now: string; offsetSeconds: number } {
  return { now: isoTime(clock.now()), offsetSeconds: clock.offset / 1000 };
}
