import { EVENT_HUB_MAX_RECEIVERS_PER_PARTITION } from '../../limits.js';

export interface Owner {
  readonly epoch?: number;
  readonly name: string;
  /** Detaches the receiver with the error Event Hubs gives a receiver that lost its partition. */
  steal(condition: string, description: string): void;
}

/**
 * Event Hubs' receiver rules per consumer group and partition (docs/protocol.md
 * §10.11): a receiver with an owner level (epoch) at least as high as the current one
 * takes the partition and the others are detached with amqp:link:stolen; a lower one is refused;
 * while an epoch receiver holds it, receivers without one are refused; at most 5 without.
 */
export class Ownership {
  private readonly groups = new Map<string, Set<Owner>>();

  /** Admits `owner`, or says why not (condition, description). */
  admit(consumerGroup: string, partition: string, owner: Owner): { condition: string; description: string } | undefined {
    const key = `${consumerGroup.toLowerCase()}/${partition}`;
    const set = this.groups.get(key) ?? new Set<Owner>();
    this.groups.set(key, set);
    const epochs = [...set].filter((o) => o.epoch !== undefined);
    const highest = epochs.reduce((max, o) => Math.max(max, o.epoch!), Number.NEGATIVE_INFINITY);
    if (owner.epoch !== undefined) {
      if (owner.epoch < highest) {
        return {
          condition: 'amqp:link:stolen',
          description: `Receiver '${owner.name}' with epoch '${owner.epoch}' cannot be created: a receiver with the higher epoch '${highest}' already exists for consumer group '${consumerGroup}', partition '${partition}'.`,
        };
      }
      for (const other of [...set]) {
        set.delete(other);
        other.steal(
          'amqp:link:stolen',
          `New receiver '${owner.name}' with higher epoch of '${owner.epoch}' is created hence current receiver '${other.name}' with epoch '${other.epoch ?? 'none'}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
        );
      }
    } else {
      if (epochs.length > 0) {
        return {
          condition: 'amqp:link:stolen',
          description: `Receiver '${owner.name}' without an epoch cannot be created: a receiver with epoch '${highest}' owns consumer group '${consumerGroup}', partition '${partition}'.`,
        };
      }
      if (set.size >= EVENT_HUB_MAX_RECEIVERS_PER_PARTITION) {
        return {
          condition: 'amqp:resource-limit-exceeded',
          description: `At most ${EVENT_HUB_MAX_RECEIVERS_PER_PARTITION} receivers per consumer group and partition are allowed (consumer group '${consumerGroup}', partition '${partition}').`,
        };
      }
    }
    set.add(owner);
    return undefined;
  }

  release(consumerGroup: string, partition: string, owner: Owner): void {
    const key = `${consumerGroup.toLowerCase()}/${partition}`;
    const set = this.groups.get(key);
    if (!set) return;
    set.delete(owner);
    if (set.size === 0) this.groups.delete(key);
  }
}
