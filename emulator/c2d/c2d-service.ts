import { randomUUID } from 'node:crypto';
import { HubError, deviceNotFound } from '../errors.js';
import type { HubEvents } from '../events.js';
import type { RegistryService } from '../identity/registry-service.js';
import { c2dLimits } from '../limits.js';
import type { C2dStore } from '../store/c2d-store.js';
import { isoTime } from '../time.js';
import { feedbackDescriptions, messageSize, wantsFeedback, type CloudMessage, type CloudMessageContent, type FeedbackStatus } from './cloud-message.js';
import type { FeedbackService } from './feedback-service.js';

/** One delivery of a queued message to a device: settle it with its lock token. */
export interface C2dDelivery {
  readonly lockToken: string;
  readonly message: CloudMessage;
}

/** Where a device takes its messages: its MQTT C2D subscription or its AMQP receiver link. */
export interface C2dSink {
  /** deliveries it can take now (AMQP link credit; unbounded on MQTT) */
  credit(): number;
  deliver(delivery: C2dDelivery): void;
}

export type C2dOutcome = 'completed' | 'rejected' | 'abandoned' | 'expired' | 'deliveryCountExceeded' | 'purged';

interface Lock {
  token: string;
  sink: C2dSink;
  timer: NodeJS.Timeout;
}

interface Entry {
  message: CloudMessage;
  lock?: Lock;
}

// setTimeout's longest delay; expiries further out are re-armed when it fires.
const MAX_TIMER_MS = 2_147_000_000;

/**
 * Cloud-to-device queues (docs/protocol.md §11): one FIFO queue per device, at most 50 pending,
 * TTL, locks while delivered, delivery count, feedback. Transport-independent: the faces attach a
 * sink per device (one at a time: one connection per device) and settle deliveries by lock token.
 */
export class CloudToDeviceService {
  private readonly queues = new Map<string, Entry[]>();
  private readonly locks = new Map<string, Entry>();
  private readonly sinks = new Map<string, C2dSink>();
  private readonly pumping = new Set<string>();
  private readonly again = new Set<string>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Number.POSITIVE_INFINITY;
  private readonly defaultTtlMs: number;
  private readonly maxDeliveryCount: number;

  constructor(
    private readonly store: C2dStore,
    private readonly registry: Pick<RegistryService, 'find' | 'setCloudToDeviceMessageCount'>,
    private readonly feedback: FeedbackService,
    private readonly events: HubEvents,
    settings: { defaultTtlMs?: number; maxDeliveryCount?: number } = {},
  ) {
    this.defaultTtlMs = settings.defaultTtlMs ?? c2dLimits.defaultTtlMs;
    this.maxDeliveryCount = settings.maxDeliveryCount ?? c2dLimits.maxDeliveryCount;
    for (const message of store.allMessages()) this.queueOf(message.deviceId).push({ message });
    for (const [deviceId, queue] of this.queues) registry.setCloudToDeviceMessageCount(deviceId, queue.length);
    this.armExpiry();
  }

  /** Queues a message for a device; throws the hub's error when it cannot (unknown device, full queue, too large). */
  send(deviceId: string, content: CloudMessageContent): CloudMessage {
    const record = this.registry.find(deviceId);
    if (!record) throw deviceNotFound(deviceId);
    if (messageSize(content) > c2dLimits.maxMessageBytes) {
      throw new HubError(
        'MessageTooLarge',
        `Message size ${messageSize(content)} bytes exceeds the limit of ${c2dLimits.maxMessageBytes} bytes for cloud-to-device messages.`,
      );
    }
    const queue = this.queueOf(deviceId);
    if (queue.length >= c2dLimits.maxPendingPerDevice) {
      throw new HubError(
        'DeviceMaximumQueueDepthExceeded',
        `The maximum number of messages (${c2dLimits.maxPendingPerDevice}) queued for device '${deviceId}' has been reached.`,
      );
    }
    const now = Date.now();
    // EMULATOR CHOICE (docs/protocol.md §11): an expiry beyond the 48-hour maximum TTL is cut to it.
    const expiresMs = Math.min(content.expiryTimeMs ?? now + this.defaultTtlMs, now + c2dLimits.maxTtlMs);
    const unsaved: Omit<CloudMessage, 'seq'> = { ...content, deviceId, deviceGenerationId: record.generationId, enqueuedMs: now, expiresMs, deliveryCount: 0 };
    const seq = this.store.add(unsaved);
    const message: CloudMessage = { ...unsaved, seq };
    queue.push({ message });
    this.registry.setCloudToDeviceMessageCount(deviceId, queue.length);
    this.events.emit('c2dSent', {
      deviceId,
      messageId: message.messageId?.value,
      ack: message.ack,
      properties: message.properties,
      payload: message.body,
      expiryTimeUtc: isoTime(expiresMs),
    });
    if (expiresMs < this.expiryAt) this.armExpiry();
    this.pump(deviceId);
    return message;
  }

  /** Messages queued for a device and not yet settled (enqueued or locked). */
  pending(deviceId: string): number {
    return this.queues.get(deviceId)?.length ?? 0;
  }

  get totalPending(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** The device can receive from now on; a previous sink of the device gives back what it held. */
  openReceiver(deviceId: string, sink: C2dSink): void {
    const previous = this.sinks.get(deviceId);
    if (previous !== sink) {
      this.sinks.set(deviceId, sink);
      if (previous) this.releaseHeldBy(deviceId, previous);
    }
    this.pump(deviceId);
  }

  /** The sink is gone (link detached, connection closed): its locked messages are enqueued again at once. */
  closeReceiver(deviceId: string, sink: C2dSink): void {
    if (this.sinks.get(deviceId) === sink) this.sinks.delete(deviceId);
    this.releaseHeldBy(deviceId, sink);
  }

  /** The sink has more credit: deliver what waits. */
  pump(deviceId: string): void {
    // A sink may settle synchronously inside deliver(); the outer loop picks that up.
    if (this.pumping.has(deviceId)) {
      this.again.add(deviceId);
      return;
    }
    this.pumping.add(deviceId);
    try {
      do {
        this.again.delete(deviceId);
        this.deliverWaiting(deviceId);
      } while (this.again.has(deviceId));
    } finally {
      this.pumping.delete(deviceId);
    }
  }

  /** The device completed a delivery (MQTT PUBACK, AMQP accepted). False when the lock is unknown or lapsed. */
  complete(lockToken: string): boolean {
    const entry = this.takeLock(lockToken);
    if (!entry) return false;
    this.finish(entry, 'completed', 'Success');
    return true;
  }

  /** AMQP rejected: dead-lettered. */
  reject(lockToken: string): boolean {
    const entry = this.takeLock(lockToken);
    if (!entry) return false;
    this.finish(entry, 'rejected', 'Rejected');
    return true;
  }

  /** AMQP released/modified: back in the queue with one more delivery counted; dead-lettered at ten. */
  abandon(lockToken: string): boolean {
    const entry = this.takeLock(lockToken);
    if (!entry) return false;
    const message = entry.message;
    message.deliveryCount++;
    if (message.deliveryCount >= this.maxDeliveryCount) {
      this.finish(entry, 'deliveryCountExceeded', 'DeliveryCountExceeded');
      return true;
    }
    this.store.setDeliveryCount(message.seq, message.deliveryCount);
    this.requeued(entry);
    this.events.emit('c2dSettled', {
      deviceId: message.deviceId,
      messageId: message.messageId?.value,
      outcome: 'abandoned',
      deliveryCount: message.deliveryCount,
    });
    this.pump(message.deviceId);
    return true;
  }

  /** `DELETE /devices/{id}/commands`: every pending message goes, with Purged feedback. */
  purge(deviceId: string): number {
    if (!this.registry.find(deviceId)) throw deviceNotFound(deviceId);
    const queue = this.queues.get(deviceId);
    if (!queue) return 0;
    const entries = [...queue];
    for (const entry of entries) {
      if (entry.lock) this.unlock(entry);
      this.finish(entry, 'purged', 'Purged');
    }
    return entries.length;
  }

  /** The device was deleted: its queue goes without feedback. */
  dropDevice(deviceId: string): void {
    const queue = this.queues.get(deviceId);
    if (queue) for (const entry of queue) if (entry.lock) this.unlock(entry);
    this.queues.delete(deviceId);
    this.sinks.delete(deviceId);
    this.store.removeDevice(deviceId);
  }

  /** Reset: every queue and held feedback message goes. */
  clear(): void {
    for (const entry of this.locks.values()) if (entry.lock) clearTimeout(entry.lock.timer);
    this.locks.clear();
    this.queues.clear();
    this.store.clear();
    this.feedback.clear();
    this.armExpiry();
  }

  close(): void {
    for (const entry of this.locks.values()) if (entry.lock) clearTimeout(entry.lock.timer);
    this.locks.clear();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.feedback.close();
  }

  private queueOf(deviceId: string): Entry[] {
    let queue = this.queues.get(deviceId);
    if (!queue) {
      queue = [];
      this.queues.set(deviceId, queue);
    }
    return queue;
  }

  private deliverWaiting(deviceId: string): void {
    const sink = this.sinks.get(deviceId);
    const queue = this.queues.get(deviceId);
    if (!sink || !queue) return;
    const now = Date.now();
    for (const entry of [...queue]) {
      if (entry.lock) continue;
      if (this.sinks.get(deviceId) !== sink || sink.credit() <= 0) return;
      if (entry.message.expiresMs <= now) {
        this.finish(entry, 'expired', 'Expired');
        continue;
      }
      const token = randomUUID();
      const timer = setTimeout(() => this.lockLapsed(token), c2dLimits.lockTimeoutMs);
      timer.unref();
      entry.lock = { token, sink, timer };
      this.locks.set(token, entry);
      sink.deliver({ lockToken: token, message: entry.message });
    }
  }

  private takeLock(lockToken: string): Entry | undefined {
    const entry = this.locks.get(lockToken);
    if (!entry) return undefined;
    this.unlock(entry);
    return entry;
  }

  private unlock(entry: Entry): void {
    if (!entry.lock) return;
    clearTimeout(entry.lock.timer);
    this.locks.delete(entry.lock.token);
    entry.lock = undefined;
  }

  /** Lock timeout: Invisible → Enqueued without counting a delivery (docs/protocol.md §11). */
  private lockLapsed(token: string): void {
    const entry = this.locks.get(token);
    if (!entry) return;
    this.unlock(entry);
    this.requeued(entry);
    this.pump(entry.message.deviceId);
  }

  /** Back in the queue: its expiry counts again. */
  private requeued(entry: Entry): void {
    if (entry.message.expiresMs < this.expiryAt) this.armExpiry();
  }

  private releaseHeldBy(deviceId: string, sink: C2dSink): void {
    const queue = this.queues.get(deviceId);
    if (!queue) return;
    let released = false;
    for (const entry of queue) {
      if (entry.lock?.sink !== sink) continue;
      this.unlock(entry);
      this.requeued(entry);
      released = true;
    }
    if (released) this.pump(deviceId);
  }

  /** Removes a message for good and writes the feedback its ack mode asks for. */
  private finish(entry: Entry, outcome: C2dOutcome, status: FeedbackStatus): void {
    const message = entry.message;
    const queue = this.queues.get(message.deviceId);
    const index = queue?.indexOf(entry) ?? -1;
    if (index >= 0) queue!.splice(index, 1);
    if (queue && queue.length === 0) this.queues.delete(message.deviceId);
    this.registry.setCloudToDeviceMessageCount(message.deviceId, queue?.length ?? 0);
    this.store.remove(message.seq);
    if (wantsFeedback(message.ack, status)) {
      this.feedback.add({
        originalMessageId: message.messageId?.value ?? '',
        description: feedbackDescriptions[status],
        statusCode: status,
        deviceId: message.deviceId,
        enqueuedTimeUtc: isoTime(),
        deviceGenerationId: message.deviceGenerationId,
      });
    }
    this.events.emit('c2dSettled', { deviceId: message.deviceId, messageId: message.messageId?.value, outcome, deliveryCount: message.deliveryCount });
  }

  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const queue of this.queues.values())
      for (const entry of queue) if (!entry.lock && entry.message.expiresMs < earliest) earliest = entry.message.expiresMs;
    this.expiryAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.expiryTimer = setTimeout(() => this.expire(), Math.min(Math.max(earliest - Date.now(), 0), MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /** Dead-letters what expired while waiting; a locked message is judged when its lock ends. */
  private expire(): void {
    const now = Date.now();
    for (const queue of [...this.queues.values()]) {
      for (const entry of [...queue]) if (!entry.lock && entry.message.expiresMs <= now) this.finish(entry, 'expired', 'Expired');
    }
    this.armExpiry();
  }
}
