import { randomUUID } from 'node:crypto';
import { c2dLimits } from '../limits.js';
import type { C2dStore } from '../store/c2d-store.js';
import type { FeedbackBatch, FeedbackRecord } from './cloud-message.js';

/** A feedback receiver link: the AMQP face implements it. */
export interface FeedbackSink {
  /** feedback messages it can take now (link credit) */
  credit(): number;
  deliver(batch: FeedbackBatch): void;
}

interface Held {
  batch: FeedbackBatch;
  /** the receiver holding it until it settles */
  sink?: FeedbackSink;
}

/**
 * Feedback records become feedback messages of up to 64 records (docs/protocol.md §11): records
 * produced in the same event-loop turn share a message, which is then held (persisted, 1 hour)
 * until one of the attached feedback receivers takes it.
 */
export class FeedbackService {
  private pending: FeedbackRecord[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  private readonly held: Held[] = [];
  private readonly sinks: FeedbackSink[] = [];
  private next = 0;

  constructor(private readonly store: C2dStore) {
    for (const batch of store.allFeedback()) this.held.push({ batch });
  }

  add(record: FeedbackRecord): void {
    this.pending.push(record);
    if (this.pending.length >= c2dLimits.maxFeedbackRecordsPerBatch) this.flush();
    else this.flushScheduled ??= setImmediate(() => this.flush());
  }

  /** Feedback messages not yet taken by a receiver. */
  get heldCount(): number {
    return this.held.length;
  }

  openReceiver(sink: FeedbackSink): void {
    if (!this.sinks.includes(sink)) this.sinks.push(sink);
    this.pump();
  }

  /** The link went away: what it had not settled goes back to be held for another receiver. */
  closeReceiver(sink: FeedbackSink): void {
    const index = this.sinks.indexOf(sink);
    if (index >= 0) this.sinks.splice(index, 1);
    for (const held of [...this.held]) if (held.sink === sink) this.release(held);
    this.pump();
  }

  /** A receiver settled a feedback message: accepted or rejected ends it, released offers it again. */
  settle(seq: number, outcome: 'accepted' | 'rejected' | 'released'): void {
    const held = this.held.find((h) => h.batch.seq === seq);
    if (!held) return;
    if (outcome === 'released') {
      this.release(held);
      this.pump();
      return;
    }
    this.drop(held);
  }

  pump(): void {
    const now = Date.now();
    for (const held of [...this.held]) {
      if (held.sink) continue;
      if (held.batch.expiresMs <= now) {
        this.drop(held);
        continue;
      }
      const sink = this.pickSink();
      if (!sink) return;
      held.sink = sink;
      sink.deliver(held.batch);
    }
  }

  clear(): void {
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.pending = [];
    this.held.length = 0;
  }

  close(): void {
    // Records of the last turn are written before the store closes.
    if (this.flushScheduled) this.flush();
  }

  private flush(): void {
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    while (this.pending.length > 0) {
      const records = this.pending.splice(0, c2dLimits.maxFeedbackRecordsPerBatch);
      const createdMs = Date.now();
      const batch: Omit<FeedbackBatch, 'seq'> = {
        messageId: randomUUID(),
        createdMs,
        expiresMs: createdMs + c2dLimits.feedbackTtlMs,
        deliveryCount: 0,
        records,
      };
      const seq = this.store.addFeedback(batch);
      this.held.push({ batch: { ...batch, seq } });
    }
    this.pump();
  }

  private release(held: Held): void {
    held.sink = undefined;
    held.batch.deliveryCount++;
    if (held.batch.deliveryCount >= c2dLimits.maxFeedbackDeliveryCount) this.drop(held);
    else this.store.setFeedbackDeliveryCount(held.batch.seq, held.batch.deliveryCount);
  }

  private drop(held: Held): void {
    const index = this.held.indexOf(held);
    if (index >= 0) this.held.splice(index, 1);
    this.store.removeFeedback(held.batch.seq);
  }

  /** Round robin over receivers with credit: each feedback message goes to one of them. */
  private pickSink(): FeedbackSink | undefined {
    for (let i = 0; i < this.sinks.length; i++) {
      const sink = this.sinks[(this.next + i) % this.sinks.length];
      if (sink.credit() > 0) {
        this.next = (this.next + i + 1) % this.sinks.length;
        return sink;
      }
    }
    return undefined;
  }
}
