import { randomBytes } from 'node:crypto';

/**
 * The registry order queries page in (docs/protocol.md §4.7): every key gets a sequence number
 * when it first appears, later keys larger ones, and keeps it until it is deleted (a key deleted
 * and added again is a new device, at the end). A cursor "after sequence n" resumes at the first
 * key numbered above n whether or not the key it ended on still exists, so a device that exists
 * through the whole paging is returned exactly once.
 *
 * Keys sit in slots in sequence order; a deleted key leaves a hole until holes outnumber live
 * keys and the slots are packed (sequence numbers never change). `epoch` names this numbering:
 * it differs between hub runs and after a reset, where a cursor falls back to its key.
 */
export class RegistryOrder {
  /** key by slot; undefined where a deleted key was */
  private slots: (string | undefined)[] = [];
  /** sequence number by slot, ascending */
  private seqBySlot: number[] = [];
  private readonly seqs = new Map<string, number>();
  private next = 0;
  private resets = 0;
  private readonly instance = randomBytes(4).toString('hex');

  get epoch(): string {
    return `${this.instance}${this.resets}`;
  }

  /** Live keys. */
  get size(): number {
    return this.seqs.size;
  }

  /** One past the last slot. */
  get end(): number {
    return this.slots.length;
  }

  keyAtSlot(slot: number): string | undefined {
    return this.slots[slot];
  }

  seqAtSlot(slot: number): number {
    return this.seqBySlot[slot]!;
  }

  /** The first slot whose key is numbered above `seq`. */
  slotAfter(seq: number): number {
    let lo = 0;
    let hi = this.seqBySlot.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqBySlot[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The live key numbered `seq`, or undefined. */
  keyOf(seq: number): string | undefined {
    const slot = this.slotAfter(seq - 1);
    return this.seqBySlot[slot] === seq ? this.slots[slot] : undefined;
  }

  seqOf(key: string): number | undefined {
    return this.seqs.get(key);
  }

  has(key: string): boolean {
    return this.seqs.has(key);
  }

  /** Gives a new key the next sequence number; a known key keeps its own. */
  add(key: string): void {
    if (this.seqs.has(key)) return;
    const seq = this.next++;
    this.seqs.set(key, seq);
    this.slots.push(key);
    this.seqBySlot.push(seq);
  }

  remove(key: string): void {
    const seq = this.seqs.get(key);
    if (seq === undefined) return;
    this.seqs.delete(key);
    this.slots[this.slotAfter(seq - 1)] = undefined;
    const holes = this.slots.length - this.seqs.size;
    if (holes > 1024 && holes > this.seqs.size) this.pack();
  }

  clear(): void {
    this.slots = [];
    this.seqBySlot = [];
    this.seqs.clear();
    this.resets++;
  }

  private pack(): void {
    const slots: string[] = [];
    const seqBySlot: number[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const key = this.slots[i];
      if (key === undefined) continue;
      slots.push(key);
      seqBySlot.push(this.seqBySlot[i]!);
    }
    this.slots = slots;
    this.seqBySlot = seqBySlot;
  }
}
