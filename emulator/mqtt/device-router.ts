import { parseDevicePublish, twinResponseTopic, type DevicePublish } from '../../protocol/topics.js';
import { mqttTwinErrorBody } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { HubEventMap, HubEvents } from '../events.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { MethodService } from '../methods/method-service.js';
import { isoTime } from '../time.js';
import type { TwinService } from '../twin/twin-service.js';
import type { DeviceConnections } from './device-connections.js';
import { TELEMETRY_MAX_BYTES } from '../limits.js';
import { readDeviceFault, type DeviceFault } from '../faults/device-fault.js';
import type { HubGate } from '../faults/hub-gate.js';

const FAULT_PROPERTY = 'AzIoTHub_FaultOperationType';

/** Thrown for a publish the hub does not accept: the face closes that device's connection (docs/protocol.md §1.9). */
export class ProtocolViolation extends Error {}

/** Turns what a device publishes into calls on the services and answers on its own connection. */
export class DeviceRouter {
  constructor(
    private readonly twins: TwinService,
    private readonly methods: MethodService,
    private readonly connections: DeviceConnections,
    private readonly events: HubEvents,
    /** throttles and chaos rules (docs/protocol.md §6); idle unless asked for */
    private readonly gate?: HubGate,
    private readonly onDeviceFault?: (deviceId: string, fault: DeviceFault) => void,
  ) {}

  /** Classifies first, so an invalid topic is refused before anything happens. */
  classify(deviceId: string, topic: string): DevicePublish {
    const message = parseDevicePublish(deviceId, topic);
    if (!message) throw new ProtocolViolation(`'${topic}' is not a topic device '${deviceId}' may publish to`);
    return message;
  }

  /**
   * Handles one publish; returns how many milliseconds its PUBACK must wait (a throttled tier's
   * traffic shaping, a chaos rule), 0 for at once.
   */
  handle(deviceId: string, message: DevicePublish, payload: Buffer, flags: { retain: boolean; will: boolean }): number {
    switch (message.kind) {
      case 'telemetry': {
        if (payload.length > TELEMETRY_MAX_BYTES) throw new ProtocolViolation(`telemetry of ${payload.length} bytes exceeds ${TELEMETRY_MAX_BYTES}`);
        // RETAIN is not supported; the message is forwarded with a marker property instead, and
        // a Will sent on an ungraceful close is telemetry marked as such (docs/protocol.md §1.9).
        let properties = message.properties;
        if (flags.retain) properties = { ...properties, 'mqtt-retain': 'true' };
        if (flags.will) properties = { ...properties, 'iothub-MessageType': 'Will' };
        if (this.onDeviceFault && FAULT_PROPERTY in properties) {
          const fault = readDeviceFault(properties);
          if (fault) this.onDeviceFault(deviceId, fault);
        }
        // A module's telemetry carries its module id (the hub's iothub-connection-module-id).
        const event = { ...splitIdentityKey(deviceId), payload, properties, enqueuedTime: isoTime() };
        if (!this.gate || this.gate.idle) {
          this.events.emit('telemetry', event);
          return 0;
        }
        return this.gatedTelemetry(this.gate, event);
      }
      case 'twinGet':
        this.gatedTwin(deviceId, message.rid, 'twinRead', () => ({ status: 200, body: JSON.stringify(this.twins.getForDevice(deviceId)) }));
        return 0;
      case 'reportedPatch':
        // The 204 goes out as soon as the patch is saved; its event follows in the same turn.
        this.gatedTwin(deviceId, message.rid, 'twinUpdate', (reply) => {
          this.twins.patchReported(deviceId, parseJson(payload), (version) => reply({ status: 204, version, body: '' }));
          return undefined;
        });
        return 0;
      case 'methodResponse':
        this.methods.handleResponse(deviceId, message.rid, message.status, payload);
        return 0;
    }
  }

  /**
   * Telemetry on a throttled tier or under chaos rules: beyond the D2C throttle's backlog or the
   * daily quota the connection is closed (EMULATOR CHOICE, docs/protocol.md §6: MQTT has no way to
   * refuse one PUBLISH); within it the message is taken late. A dropTelemetry rule acknowledges and
   * loses it; delayPubacks holds the acknowledgement.
   */
  private gatedTelemetry(gate: HubGate, event: HubEventMap['telemetry'][0]): number {
    const decision = gate.check('d2c', undefined, 1, event.payload.length);
    if (decision?.error) throw new ProtocolViolation(`telemetry refused: ${decision.error.errorName} (${decision.error.message})`);
    const shaped = decision?.delayMs ?? 0;
    const dropped = gate.faults.active && gate.faults.dropsTelemetry(event.deviceId);
    const held = gate.faults.active ? gate.faults.pubackDelay(event.deviceId) : 0;
    if (dropped) this.events.emit('faultApplied', { what: 'telemetry dropped', operation: 'd2c', deviceId: event.deviceId });
    else if (shaped > 0) setTimeout(() => this.events.emit('telemetry', event), shaped);
    else this.events.emit('telemetry', event);
    if (held > 0) this.events.emit('faultApplied', { what: `PUBACK held ${held} ms`, operation: 'd2c', deviceId: event.deviceId });
    return shaped + held;
  }

  /** A twin operation through the gate: answered late, or with the throttle's or rule's error, as the gate says. */
  private gatedTwin(deviceId: string, rid: string, operation: 'twinRead' | 'twinUpdate', run: TwinOperation): void {
    const gate = this.gate;
    const decision = gate && !gate.idle ? gate.check(operation, () => gate.faults.operationFault(operation, deviceId)) : undefined;
    if (!decision) return this.answerTwin(deviceId, rid, run);
    setTimeout(() => {
      const error = decision.error;
      this.answerTwin(
        deviceId,
        rid,
        error
          ? () => {
              throw error;
            }
          : run,
      );
    }, decision.delayMs);
  }

  /** Runs a twin operation and answers it once: with what it returns or replies, or with the HubError it throws. */
  private answerTwin(deviceId: string, rid: string, operation: TwinOperation): void {
    let replied = false;
    const reply = ({ status, body, version }: TwinAnswer): void => {
      replied = true;
      // The answer goes out only to a device subscribed to twin responses, as a broker would deliver it.
      if (this.connections.isSubscribed(deviceId, 'twinResponses')) {
        this.connections.send(deviceId, twinResponseTopic(status, rid, version), body);
      }
    };
    let answer: TwinAnswer | undefined;
    try {
      answer = operation(reply);
    } catch (error) {
      if (!(error instanceof HubError) || replied) throw error;
      answer = { status: error.status, body: mqttTwinErrorBody(error) };
    }
    if (answer && !replied) reply(answer);
  }
}

interface TwinAnswer {
  status: number;
  body: string;
  version?: number;
}

/** A device twin call: returns its answer, or gives it to `reply` itself (before its events go out). */
type TwinOperation = (reply: (answer: TwinAnswer) => void) => TwinAnswer | undefined;

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new HubError('ArgumentInvalid', 'The reported properties patch is not valid JSON.');
  }
}
