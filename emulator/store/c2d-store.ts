import type { CloudMessage, FeedbackBatch, FeedbackRecord } from '../c2d/cloud-message.js';
import type { Db } from './database.js';

interface MessageRow {
  seq: number;
  device_id: string;
  enqueued_ms: number;
  expiry_ms: number;
  delivery_count: number;
  message: string;
  body: Buffer;
}

interface FeedbackRow {
  seq: number;
  message_id: string;
  created_ms: number;
  expiry_ms: number;
  delivery_count: number;
  records: string;
}

type StoredFields = Omit<CloudMessage, 'seq' | 'deviceId' | 'enqueuedMs' | 'expiresMs' | 'deliveryCount' | 'body'>;

/**
 * Cloud-to-device queues and held feedback in SQLite. The C2D service keeps the queues in memory
 * and writes every change through before it answers, so a restart finds what was pending.
 */
export class C2dStore {
  private readonly insertMessage;
  private readonly deleteMessage;
  private readonly updateDeliveryCount;
  private readonly deleteDevice;
  private readonly insertFeedback;
  private readonly deleteFeedback;
  private readonly updateFeedbackCount;

  constructor(private readonly db: Db) {
    this.insertMessage = db.prepare('INSERT INTO c2d_messages (device_id, enqueued_ms, expiry_ms, delivery_count, message, body) VALUES (?, ?, ?, ?, ?, ?)');
    this.deleteMessage = db.prepare('DELETE FROM c2d_messages WHERE seq = ?');
    this.updateDeliveryCount = db.prepare('UPDATE c2d_messages SET delivery_count = ? WHERE seq = ?');
    this.deleteDevice = db.prepare('DELETE FROM c2d_messages WHERE device_id = ?');
    this.insertFeedback = db.prepare('INSERT INTO c2d_feedback (message_id, created_ms, expiry_ms, delivery_count, records) VALUES (?, ?, ?, ?, ?)');
    this.deleteFeedback = db.prepare('DELETE FROM c2d_feedback WHERE seq = ?');
    this.updateFeedbackCount = db.prepare('UPDATE c2d_feedback SET delivery_count = ? WHERE seq = ?');
  }

  /** Stores a new message; returns its sequence number. */
  add(message: Omit<CloudMessage, 'seq'>): number {
    const { deviceId, enqueuedMs, expiresMs, deliveryCount, body, ...fields } = message;
    const stored: StoredFields = fields;
    const result = this.insertMessage.run(deviceId, enqueuedMs, expiresMs, deliveryCount, JSON.stringify(stored), body);
    return Number(result.lastInsertRowid);
  }

  remove(seq: number): void {
    this.deleteMessage.run(seq);
  }

  setDeliveryCount(seq: number, deliveryCount: number): void {
    this.updateDeliveryCount.run(deliveryCount, seq);
  }

  removeDevice(deviceId: string): void {
    this.deleteDevice.run(deviceId);
  }

  /** Every pending message, in send order. */
  allMessages(): CloudMessage[] {
    const rows = this.db
      .prepare('SELECT seq, device_id, enqueued_ms, expiry_ms, delivery_count, message, body FROM c2d_messages ORDER BY seq')
      .all() as MessageRow[];
    return rows.map((row) => ({
      ...(JSON.parse(row.message) as StoredFields),
      seq: row.seq,
      deviceId: row.device_id,
      enqueuedMs: row.enqueued_ms,
      expiresMs: row.expiry_ms,
      deliveryCount: row.delivery_count,
      body: row.body,
    }));
  }

  addFeedback(batch: Omit<FeedbackBatch, 'seq'>): number {
    const result = this.insertFeedback.run(batch.messageId, batch.createdMs, batch.expiresMs, batch.deliveryCount, JSON.stringify(batch.records));
    return Number(result.lastInsertRowid);
  }

  removeFeedback(seq: number): void {
    this.deleteFeedback.run(seq);
  }

  setFeedbackDeliveryCount(seq: number, deliveryCount: number): void {
    this.updateFeedbackCount.run(deliveryCount, seq);
  }

  allFeedback(): FeedbackBatch[] {
    const rows = this.db
      .prepare('SELECT seq, message_id, created_ms, expiry_ms, delivery_count, records FROM c2d_feedback ORDER BY seq')
      .all() as FeedbackRow[];
    return rows.map((row) => ({
      seq: row.seq,
      messageId: row.message_id,
      createdMs: row.created_ms,
      expiresMs: row.expiry_ms,
      deliveryCount: row.delivery_count,
      records: JSON.parse(row.records) as FeedbackRecord[],
    }));
  }

  clear(): void {
    this.db.exec('DELETE FROM c2d_messages; DELETE FROM c2d_feedback;');
  }
}
