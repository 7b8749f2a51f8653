import { vi } from 'vitest';
import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import type { Hub } from '../../emulator/hub.js';

export type ServiceClientInstance = InstanceType<typeof iothub.Client>;

export interface FeedbackRecordJson {
  originalMessageId: string;
  description: string;
  statusCode: string;
  deviceId: string;
  enqueuedTimeUtc: string;
  deviceGenerationId: string;
}

/** What a feedback receiver got: each feedback message's content type and records. */
export interface FeedbackLog {
  messages: { contentType?: string; records: FeedbackRecordJson[] }[];
  records(): FeedbackRecordJson[];
}

/** Opens the service SDK's AMQP client and its feedback receiver. */
export async function openServiceClient(hub: Hub): Promise<{ client: ServiceClientInstance; feedback: FeedbackLog }> {
  const client = iothub.Client.fromConnectionString(hub.connectionString());
  await client.open();
  const receiver = resultOf(await client.getFeedbackReceiver());
  const feedback: FeedbackLog = {
    messages: [],
    records: () => feedback.messages.flatMap((m) => m.records),
  };
  receiver.on('message', (message: InstanceType<typeof device.Message>) => {
    feedback.messages.push({ contentType: message.contentType, records: JSON.parse(message.getData().toString()) as FeedbackRecordJson[] });
  });
  return { client, feedback };
}

/** A C2D message as the service SDK builds it. */
export function c2dMessage(
  body: string,
  options: { messageId?: string; ack?: 'none' | 'positive' | 'negative' | 'full'; expiryTimeUtc?: number; properties?: Record<string, string> } = {},
): InstanceType<typeof device.Message> {
  const message = new device.Message(body);
  if (options.messageId !== undefined) message.messageId = options.messageId;
  if (options.ack) message.ack = options.ack;
  if (options.expiryTimeUtc) message.expiryTimeUtc = options.expiryTimeUtc;
  for (const [k, v] of Object.entries(options.properties ?? {})) message.properties.add(k, v);
  return message;
}

/** azure-iothub's AMQP promises resolve `{ result, message }` (its typings say `responseBody`). */
export function resultOf<T>(value: { responseBody?: T } | { result?: T }): T {
  return ((value as { result?: T }).result ?? (value as { responseBody?: T }).responseBody) as T;
}

/** vi.waitFor for a condition: retries until `check` returns something truthy (and returns it), failing with `what` after `timeoutMs`. */
export function eventually<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs = 5000,
  what = 'the condition',
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (!value) throw new Error(`still waiting for ${what}`);
      return value;
    },
    { timeout: timeoutMs, interval: 20 },
  );
}
