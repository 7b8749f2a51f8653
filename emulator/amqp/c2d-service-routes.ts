import type { Logger } from 'pino';
import type { Delivery, EventContext, Sender } from 'rhea';
import type { CloudToDeviceService, FeedbackBatch, FeedbackService, FeedbackSink } from '../c2d/index.js';
import { amqpRefusal } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { HubGate } from '../faults/hub-gate.js';
import { feedbackMessage, readServiceMessage, sendErrorCondition } from './c2d-codec.js';
import type { LinkRoutes } from './link-routes.js';

export interface ServiceC2dDependencies {
  c2d: CloudToDeviceService;
  feedback: FeedbackService;
  /** the hub's name: the user-id of the messages the hub sends */
  hubName: string;
  log: Logger;
  /** throttles (the C2D class and the daily quota: docs/protocol.md §13); idle unless asked for */
  gate?: HubGate;
}

/**
 * Answers a disposition from the client at once with an empty frame (AMQP's heartbeat). A
 * disposition needs no reply, so the kernel would hold its TCP ACK for the delayed-ACK time
 * (40 ms on Linux), and the IoT SDKs' sockets (Nagle on) hold their next transfer until that ACK
 * comes: a back end that sends its next command when the last one's feedback arrives would wait
 * 40 ms per command. The empty frame carries the ACK now.
 */
export function acknowledgeNow(sender: Sender): void {
  try {
    (sender.connection as unknown as { _write_frame(): void })._write_frame();
  } catch {
    // the connection is going away; nothing to acknowledge
  }
}

/** Link credit a rhea sender has left (0 once it is closing). */
export function creditOf(sender: Sender): number {
  return sender.is_open() && sender.sendable() ? (sender as unknown as { credit: number }).credit : 0;
}

/**
 * The service side of cloud-to-device messaging (docs/protocol.md §11), for azure-iothub's
 * `Client`: sends on `/messages/devicebound`, feedback on `/messages/serviceBound/feedback`, and
 * the file-notification receiver (which attaches and stays quiet: the emulator has no file upload).
 */
export function registerServiceC2dRoutes(routes: LinkRoutes, deps: ServiceC2dDependencies): void {
  const { c2d, feedback, hubName, log } = deps;

  routes.receiving('/messages/devicebound', { service: 'ServiceConnect' }, (ctx) => {
    ctx.link.on('message', (context: EventContext) => {
      const delivery = context.delivery!;
      try {
        const { deviceId, content } = readServiceMessage(context.message!);
        const gate = deps.gate;
        const decision = gate && !gate.idle ? gate.check('c2d', undefined, 1, content.body.length) : undefined;
        if (decision?.error) {
          log.info({ deviceId, error: decision.error.errorName }, 'C2D send refused');
          delivery.reject(amqpRefusal(decision.error, 'service') as never);
          return;
        }
        if (decision) {
          // Traffic shaping: queued and accepted late, as the hub answers a burst within its backlog.
          setTimeout(() => queue(delivery, deviceId, content), decision.delayMs);
          return;
        }
        c2d.send(deviceId, content);
        delivery.accept();
      } catch (error) {
        if (!(error instanceof HubError)) {
          log.error({ err: error }, 'error while queueing a C2D message');
          delivery.reject({ condition: 'amqp:internal-error', description: 'The emulator failed to queue the message.' });
          return;
        }
        // Always with an error: the SDK reads a rejection without one as success (docs/protocol.md §11).
        delivery.reject({
          condition: sendErrorCondition(error),
          description: error.message,
          info: { 'com.microsoft:tracking-id': '', 'iothub-errorcode': error.errorName },
        } as never);
      }
    });
  });

  // A send the throttle held: queued now, or refused as an immediate one would have been.
  const queue = (delivery: Delivery, deviceId: string, content: Parameters<CloudToDeviceService['send']>[1]): void => {
    try {
      c2d.send(deviceId, content);
      delivery.accept();
    } catch (error) {
      const hubError = error instanceof HubError ? error : new HubError('ServerError', 'The emulator failed to queue the message.');
      try {
        delivery.reject({ condition: sendErrorCondition(hubError), description: hubError.message, info: { 'iothub-errorcode': hubError.errorName } } as never);
      } catch {
        // the link went away meanwhile
      }
    }
  };

  routes.sending('/messages/serviceBound/feedback', { service: 'ServiceConnect' }, (ctx) => {
    const sender = ctx.link;
    const inFlight = new Map<Delivery, number>();
    const sink: FeedbackSink = {
      credit: () => creditOf(sender),
      deliver(batch: FeedbackBatch) {
        inFlight.set(sender.send(feedbackMessage(batch, hubName) as never), batch.seq);
      },
    };
    const settle = (outcome: 'accepted' | 'rejected' | 'released') => (context: EventContext) => {
      const seq = inFlight.get(context.delivery!);
      if (seq === undefined) return;
      inFlight.delete(context.delivery!);
      feedback.settle(seq, outcome);
      acknowledgeNow(sender);
    };
    sender.on('accepted', settle('accepted'));
    sender.on('rejected', settle('rejected'));
    // rhea also reports `modified` as `released` (treat_modified_as_released).
    sender.on('released', settle('released'));
    sender.on('sendable', () => feedback.pump());
    const gone = (): void => {
      inFlight.clear();
      feedback.closeReceiver(sink);
    };
    sender.on('sender_close', gone);
    ctx.peer.onClose(gone);
    // The attach reply goes out on the next tick, and the client gives credit after it.
    feedback.openReceiver(sink);
  });

  // EMULATOR CHOICE (docs/protocol.md §11): the link attaches and never carries a message.
  routes.sending('/messages/serviceBound/filenotifications', { service: 'ServiceConnect' }, () => {});
}
