import type { Message, Receiver, Sender, Session } from 'rhea';

/**
 * The hub-side senders of a request/response node ($cbs, $management) on each connection, and
 * which one a response goes to (docs/protocol.md §10.3): the sender whose remote target
 * address or link name equals the request's reply-to; else one on the request's session; else
 * any on the connection. (The IoT SDKs send reply-to `cbs`, which names neither.)
 */
export class ReplyLinks {
  // Per connection, so a lost connection takes its senders with it.
  private readonly senders = new WeakMap<Receiver['connection'], Set<Sender>>();
  private readonly waiting = new WeakMap<Sender, Message[]>();

  add(sender: Sender): void {
    const set = this.senders.get(sender.connection) ?? new Set<Sender>();
    this.senders.set(sender.connection, set);
    set.add(sender);
    sender.on('sender_close', () => set.delete(sender));
    sender.on('sendable', () => this.flush(sender));
  }

  /** Sends `response` on the link `request` asked for; false when the client has none. */
  reply(receiver: Receiver, replyTo: string | undefined, response: Message): boolean {
    const sender = this.find(receiver.connection, receiver.session, replyTo);
    if (!sender) return false;
    if (sender.sendable() && !this.waiting.has(sender)) sender.send(response);
    else {
      const queue = this.waiting.get(sender) ?? [];
      queue.push(response);
      this.waiting.set(sender, queue);
    }
    return true;
  }

  private find(connection: Receiver['connection'], session: Session, replyTo: string | undefined): Sender | undefined {
    let sameSession: Sender | undefined;
    let any: Sender | undefined;
    for (const sender of this.senders.get(connection) ?? []) {
      if (sender.is_closed()) continue;
      const target = (sender as unknown as { remote?: { attach?: { target?: { address?: string } } } }).remote?.attach?.target?.address;
      if (replyTo !== undefined && (target === replyTo || sender.name === replyTo)) return sender;
      if (!sameSession && sender.session === session) sameSession = sender;
      any ??= sender;
    }
    return sameSession ?? any;
  }

  private flush(sender: Sender): void {
    const queue = this.waiting.get(sender);
    if (!queue) return;
    while (queue.length > 0 && sender.sendable()) sender.send(queue.shift()!);
    if (queue.length === 0) this.waiting.delete(sender);
  }
}
