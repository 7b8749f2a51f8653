import type { Request, Response } from 'express';
import type { RecordedEntry } from '../operations/recorded-entry.js';
import { matcher, type Recording, type RecordingFilter } from '../operations/recording.js';
import { EVENT_STREAM_HEARTBEAT_MS, EVENT_STREAM_MAX_BUFFERED_BYTES } from '../limits.js';

/**
 * Streams recorded entries as server-sent events: `id` is the entry's sequence number, `event`
 * its kind, `data` the entry as JSON. Entries after `since` (or the `Last-Event-ID` a
 * reconnecting client sends) are replayed from the recording first.
 */
export function sendEventStream(req: Request, res: Response, recording: Recording, filter: RecordingFilter): void {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Reverse proxies (nginx) would otherwise hold events back until a buffer fills.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  res.write(`: iothub-emulator events\nretry: 2000\n\n`);

  let closed = false;
  const live = matcher({ ...filter, since: undefined });
  const unsubscribe = recording.subscribe((entry) => {
    if (live(entry)) write(entry);
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), EVENT_STREAM_HEARTBEAT_MS);
  heartbeat.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  };
  const write = (entry: RecordedEntry): void => {
    if (closed) return;
    res.write(`id: ${entry.seq}\nevent: ${entry.kind}\ndata: ${JSON.stringify(entry)}\n\n`);
    if (res.writableLength > EVENT_STREAM_MAX_BUFFERED_BYTES) close();
  };
  // 'close' on the response: the request's own 'close' fires once its (empty) body is read.
  res.on('close', close);
  res.on('error', close);

  // Synchronous, so no live entry can slip in between the replay and the subscription above.
  const lastEventId = Number(req.headers['last-event-id']);
  const since = filter.since ?? (req.headers['last-event-id'] !== undefined && Number.isInteger(lastEventId) ? lastEventId : undefined);
  if (since !== undefined) for (const entry of recording.entries({ ...filter, since })) write(entry);
}
