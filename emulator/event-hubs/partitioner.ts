/**
 * The partition of a device's events: FNV-1a (32-bit) over the UTF-8 bytes of the device id,
 * modulo the partition count (docs/protocol.md §10.7). IoT Hub's own hash is
 * not public; what users can rely on, and what this keeps, is that one device always lands on
 * the same partition, in arrival order.
 */
export function partitionOf(deviceId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
