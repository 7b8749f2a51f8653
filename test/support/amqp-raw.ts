import rhea, { type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Hub } from '../../emulator/hub.js';

/** A bare rhea 3 client on its own container, for what the SDKs never send. */
export async function rawAmqp(hub: Hub, options: Record<string, unknown> = {}): Promise<Connection> {
  const container = rhea.create_container();
  container.on('error', () => {});
  const connection = container.connect({
    transport: 'tls',
    host: hub.options.host,
    port: hub.amqpPort,
    servername: 'localhost',
    reconnect: false,
    ...options,
  } as never);
  connection.on('disconnected', () => {});
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('connection_error', (c: EventContext) => reject(c.connection.error));
    connection.once('disconnected', (c: EventContext) => reject(c.error ?? new Error('disconnected')));
  });
  return connection;
}

export function attached<L extends Sender | Receiver>(link: L): Promise<L> {
  return new Promise((resolve, reject) => {
    const kind = link.is_sender() ? 'sender' : 'receiver';
    link.once(`${kind}_open`, () => resolve(link));
    link.once(`${kind}_error`, () => reject(link.error));
  });
}

/** Resolves with the error the hub detached the link with. */
export function detachedWith(link: Sender | Receiver): Promise<{ condition: string; description: string }> {
  return new Promise((resolve) => {
    const kind = link.is_sender() ? 'sender' : 'receiver';
    link.once(`${kind}_error`, () => resolve(link.error as never));
  });
}

/** put-token on $cbs; resolves with the status the hub answered. */
const cbsLinks = new WeakMap<Connection, Promise<[Sender, Receiver]>>();

export async function putToken(connection: Connection, audience: string, token: string): Promise<{ status: number; description: string }> {
  let links = cbsLinks.get(connection);
  if (!links) {
    links = Promise.all([
      attached(connection.open_sender({ target: { address: '$cbs' } })),
      attached(connection.open_receiver({ source: { address: '$cbs' } })),
    ]);
    cbsLinks.set(connection, links);
  }
  const [sender, receiver] = await links;
  const id = `req-${Math.random()}`;
  const answer = new Promise<{ status: number; description: string }>((resolve) => {
    receiver.on('message', (context: EventContext) => {
      const m = context.message as Message;
      if (m.correlation_id === id) resolve({ status: m.application_properties!['status-code'], description: m.application_properties!['status-description'] });
    });
  });
  await waitSendable(sender);
  sender.send({
    message_id: id,
    reply_to: 'cbs',
    to: '$cbs',
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
    body: token,
  });
  return answer;
}

export function waitSendable(sender: Sender): Promise<void> {
  if (sender.sendable()) return Promise.resolve();
  return new Promise((resolve) => sender.once('sendable', () => resolve()));
}

export function closedConnection(connection: Connection): Promise<unknown> {
  return new Promise((resolve) => {
    connection.once('disconnected', (c: EventContext) => resolve(c.error ?? 'disconnected'));
    connection.once('connection_close', () => resolve(connection.error ?? 'closed'));
  });
}
