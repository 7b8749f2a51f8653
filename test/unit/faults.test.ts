import { describe, expect, it } from 'vitest';
import { readDeviceFault } from '../../emulator/faults/device-fault.js';
import { FaultInjector } from '../../emulator/faults/fault-injector.js';
import { readFaultRule } from '../../emulator/faults/fault-rule.js';
import { HubError } from '../../emulator/errors.js';

const noActions = { disconnect: () => [] };

function refusal(input: unknown): string {
  try {
    readFaultRule(input, '1', new Date());
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error('rule was accepted');
}

describe('fault rules', () => {
  it('refuse bad definitions with a message naming the field', () => {
    expect(refusal({ kind: 'explode' })).toMatch(/'kind'/);
    expect(refusal({ kind: 'failOperations', operation: 'methods', fraction: 2, status: 500 })).toMatch(/'fraction'/);
    expect(refusal({ kind: 'failOperations', operation: 'nope', status: 500 })).toMatch(/'operation'/);
    expect(refusal({ kind: 'failOperations', operation: 'methods', status: 500, errorCode: 'DeviceNotFound' })).toMatch(/'status'/);
    expect(refusal({ kind: 'failOperations', operation: 'methods', errorCode: 'Boom' })).toMatch(/'errorCode'/);
    expect(refusal({ kind: 'failOperations', operation: 'methods' })).toMatch(/'status'/);
    expect(refusal({ kind: 'refuseConnects', connackCode: 9 })).toMatch(/'connackCode'/);
    expect(refusal({ kind: 'refuseConnects', status: 500 })).toMatch(/'status' applies only/);
    expect(refusal({ kind: 'dropConnections', target: { deviceId: 'a', prefix: 'b' } })).toMatch(/'target.deviceId'/);
    expect(refusal({ kind: 'dropConnections', target: { colour: 'red' } })).toMatch(/'target.colour'/);
    expect(refusal({ kind: 'delayPubacks' })).toMatch(/'delayMs'/);
    expect(refusal({ kind: 'failOperations', operation: 'methods', status: 500, colour: 1 })).toMatch(/'colour'/);
    expect(refusal([])).toMatch(/JSON object/);
  });

  it('derive the status from the error name and the error name from the status', () => {
    const a = readFaultRule({ kind: 'failOperations', operation: 'twinUpdate', errorCode: 'ThrottlingException' }, '1', new Date());
    expect(a.status).toBe(429);
    const b = readFaultRule({ kind: 'failOperations', operation: 'rest', route: '/devices', status: 503 }, '2', new Date());
    expect(b.errorCode).toBe('ServiceUnavailable');
    const c = readFaultRule({ kind: 'restart' }, '3', new Date());
    expect(c.durationSeconds).toBe(5);
  });
});

describe('FaultInjector', () => {
  it('fails the same calls for the same seed, and about the given share of them', () => {
    const run = (seed: number): boolean[] => {
      const faults = new FaultInjector(noActions);
      faults.add({ kind: 'failOperations', operation: 'methods', status: 500, fraction: 0.5, seed });
      return Array.from({ length: 400 }, () => faults.operationFault('methods', 'd1')?.error !== undefined);
    };
    const first = run(7);
    expect(run(7)).toEqual(first);
    expect(run(8)).not.toEqual(first);
    const failed = first.filter(Boolean).length;
    expect(failed).toBeGreaterThan(150);
    expect(failed).toBeLessThan(250);
  });

  it('matches devices by id, prefix and a stable share', () => {
    const faults = new FaultInjector(noActions);
    faults.add({ kind: 'refuseConnects', target: { prefix: 'cam-' }, connackCode: 5 });
    expect(faults.connectRefusal('cam-1')).toBe(5);
    expect(faults.connectRefusal('door-1')).toBeUndefined();
    faults.clear();
    faults.add({ kind: 'refuseConnects', target: { fraction: 0.25 }, seed: 3 });
    const ids = Array.from({ length: 400 }, (_, i) => `d${i}`);
    const picked = ids.filter((id) => faults.connectRefusal(id) !== undefined);
    expect(picked.length).toBeGreaterThan(60);
    expect(picked.length).toBeLessThan(140);
    expect(ids.filter((id) => faults.connectRefusal(id) !== undefined)).toEqual(picked);
  });

  it('drops connections at once and restarts refuse every connect for their duration', () => {
    const dropped: string[] = [];
    const faults = new FaultInjector({
      disconnect: (select) => ['a1', 'a2', 'b1'].filter(select).map((id) => (dropped.push(id), id)),
    });
    const { affected } = faults.add({ kind: 'dropConnections', target: { prefix: 'a' } });
    expect(affected).toEqual(['a1', 'a2']);
    expect(faults.list()).toHaveLength(0); // acted once, nothing stays in force
    faults.add({ kind: 'restart', durationSeconds: 60 });
    expect(dropped).toEqual(['a1', 'a2', 'a1', 'a2', 'b1']);
    expect(faults.connectRefusal('zzz')).toBe(3);
    const [rule] = faults.list();
    expect(faults.remove(rule.id)).toBe(true);
    expect(faults.connectRefusal('zzz')).toBeUndefined();
  });

  it('matches REST routes by prefix and method', () => {
    const faults = new FaultInjector(noActions);
    faults.add({ kind: 'failOperations', operation: 'rest', route: '/devices', method: 'put', status: 503 });
    expect(faults.restFault('PUT', '/devices/x')?.error?.errorName).toBe('ServiceUnavailable');
    expect(faults.restFault('GET', '/devices/x')).toBeUndefined();
    expect(faults.restFault('PUT', '/twins/x')).toBeUndefined();
  });
});

describe('device-requested faults', () => {
  it('reads the SDK e2e tests\' properties and ignores messages without them', () => {
    expect(
      readDeviceFault({
        AzIoTHub_FaultOperationType: 'KillTcp',
        AzIoTHub_FaultOperationCloseReason: 'boom',
        AzIoTHub_FaultOperationDelayInSecs: '1',
        AzIoTHub_FaultOperationDurationInSecs: '5',
      }),
    ).toEqual({ kind: 'KillTcp', closeReason: 'boom', delaySeconds: 1, durationSeconds: 5 });
    expect(readDeviceFault({ temperature: '21' })).toBeUndefined();
    expect(readDeviceFault({ AzIoTHub_FaultOperationType: 'Explode' })).toBeUndefined();
  });
});

describe('the fleet reads the hub\'s refusals', async () => {
  const { hubRefusal } = await import('../../fleet/runner/hub-refusal.js');
  it('from both engines\' errors', () => {
    expect(hubRefusal(new Error('Connection refused: Server unavailable'))).toBe('throttled');
    expect(hubRefusal(new Error('twin operation failed with 429: The request rate is too high'))).toBe('throttled');
    expect(hubRefusal(Object.assign(new Error('x'), { name: 'ThrottlingError' }))).toBe('throttled');
    expect(hubRefusal(new Error('twin operation failed with 403: quota'))).toBe('quota');
    expect(hubRefusal(new Error('Connection refused: Not authorized'))).toBeUndefined();
  });
});
