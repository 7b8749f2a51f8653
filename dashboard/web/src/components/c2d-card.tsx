import { useState } from 'preact/hooks';
import { api, type C2dQueued } from '../api';
import { clockTime, compactJson } from '../format';
import type { C2dEvent } from './feeds';
import { Props } from './feeds';
import { Card, ErrorBox, StatusPill } from './ui';

/** `name=value` lines → the message's application properties (the SDK's `properties.add`). */
function readProperties(text: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Property line ${i + 1} ('${line}') is not name=value.`);
    properties[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return properties;
}

/** A v4 UUID; crypto.randomUUID exists only in secure contexts (not a page reached over a LAN address). */
function newUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const what: Record<C2dEvent['event'], string> = {
  sent: 'queued',
  completed: 'completed by the device',
  rejected: 'rejected by the device (dead-lettered)',
  abandoned: 'abandoned by the device (back in the queue)',
  expired: 'expired in the queue',
  deliveryCountExceeded: 'abandoned too often (dead-lettered)',
  purged: 'purged',
};

/**
 * Cloud-to-device messages as azure-iothub's `Client.send` sends them: body, application
 * properties, message and correlation id, acknowledgement (feedback) mode, expiry, content type
 * and encoding. The hub's answer (queued, how many wait) or its refusal in its own words (403004
 * when 50 wait, 404001 for a device that is gone, 413 past 64 KB), and what became of each
 * message (completed, rejected, abandoned, expired, purged), live.
 */
export function C2dCard({ deviceId, pending, history }: { deviceId: string; pending: number; history: C2dEvent[] }) {
  const [body, setBody] = useState('{"command":"unlock"}');
  const [properties, setProperties] = useState('');
  const [messageId, setMessageId] = useState('');
  const [correlationId, setCorrelationId] = useState('');
  const [ack, setAck] = useState('none');
  const [expirySeconds, setExpirySeconds] = useState('');
  const [contentType, setContentType] = useState('');
  const [contentEncoding, setContentEncoding] = useState('');
  const [queued, setQueued] = useState<string>();
  const [error, setError] = useState<unknown>();
  const base = `/devices/${encodeURIComponent(deviceId)}/messages`;

  const send = async (): Promise<void> => {
    setError(undefined);
    setQueued(undefined);
    let props: Record<string, string>;
    try {
      props = readProperties(properties);
    } catch (e) {
      setError(e);
      return;
    }
    const seconds = expirySeconds.trim() === '' ? undefined : Number(expirySeconds);
    if (seconds !== undefined && !(Number.isFinite(seconds) && seconds >= 0)) {
      setError(new Error('Expires after takes a number of seconds (empty: the hub default, 1 hour).'));
      return;
    }
    try {
      const answer = await api<C2dQueued>('POST', base, {
        body,
        properties: props,
        messageId,
        correlationId,
        ack,
        contentType,
        contentEncoding,
        expiryTimeUtc: seconds === undefined ? undefined : new Date(Date.now() + seconds * 1000).toISOString(),
      });
      setQueued(
        `Queued${answer.messageId ? ` ${answer.messageId}` : ''} · ${answer.pending} of ${answer.maxPending} waiting · expires ${clockTime(answer.expiryTimeUtc)}`,
      );
    } catch (e) {
      setError(e);
    }
  };

  const purge = async (): Promise<void> => {
    setError(undefined);
    setQueued(undefined);
    try {
      const answer = await api<{ totalMessagesPurged: number }>('DELETE', base);
      setQueued(`Purged ${answer.totalMessagesPurged} message(s)`);
    } catch (e) {
      setError(e);
    }
  };

  const input = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <Card
      title="Cloud-to-device message"
      actions={
        <>
          <span class="muted small" data-testid="c2d-pending">
            {pending} waiting
          </span>
          <button class="btn btn-small" type="button" disabled={pending === 0} onClick={() => void purge()}>
            Purge queue
          </button>
        </>
      }
    >
      <form
        class="c2d-form"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <div class="grid-form">
          <label class="field span-2">
            Message body
            <textarea
              class="code"
              rows={3}
              spellcheck={false}
              value={body}
              onInput={input(setBody)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  void send();
                }
              }}
            />
          </label>
          <label class="field span-2">
            Properties (one name=value a line)
            <textarea class="code" rows={2} spellcheck={false} value={properties} onInput={input(setProperties)} placeholder="priority=high" />
          </label>
          <label class="field">
            Message ID
            <span class="input-with-button">
              <input value={messageId} onInput={input(setMessageId)} placeholder="none" />
              <button class="btn btn-small" type="button" onClick={() => setMessageId(newUuid())} title="A new UUID as message ID">
                New ID
              </button>
            </span>
          </label>
          <label class="field">
            Acknowledgement (feedback)
            <select value={ack} onChange={input(setAck)}>
              <option value="none">none</option>
              <option value="positive">positive</option>
              <option value="negative">negative</option>
              <option value="full">full</option>
            </select>
          </label>
          <label class="field">
            Correlation ID
            <input value={correlationId} onInput={input(setCorrelationId)} placeholder="none" />
          </label>
          <label class="field">
            Expires after (s)
            <input type="number" min="0" value={expirySeconds} onInput={input(setExpirySeconds)} placeholder="hub default: 3600" />
          </label>
          <label class="field">
            Content type
            <input value={contentType} onInput={input(setContentType)} placeholder="application/json" />
          </label>
          <label class="field">
            Content encoding
            <input value={contentEncoding} onInput={input(setContentEncoding)} placeholder="utf-8" />
          </label>
        </div>
        <div class="row">
          <button class="btn btn-primary" type="submit">
            Send message
          </button>
          <span class="muted small">Ctrl+Enter sends</span>
          <span class="spacer" />
          <span class="ok small ellipsis" role="status" data-testid="c2d-result">
            {queued ?? ''}
          </span>
        </div>
        <ErrorBox error={error} />
      </form>
      <ol class="feed c2d-feed" aria-label="Cloud-to-device messages">
        {history.length === 0 && <li class="empty">No messages sent to this device yet.</li>}
        {history.map((m) => (
          <li key={m.seq} class="feed-item" title={what[m.event]}>
            <span class="feed-time mono">{clockTime(m.time)}</span>
            <StatusPill status={m.event} />
            <span class="mono small c2d-id">{m.messageId ?? '—'}</span>
            {m.event === 'sent' ? (
              <>
                <code class="feed-body">{compactJson(m.payload)}</code>
                <Props properties={{ ...(m.ack && m.ack !== 'none' ? { 'iothub-ack': m.ack } : {}), ...(m.properties ?? {}) }} />
              </>
            ) : (
              <span class="feed-body muted small">
                {what[m.event]}
                {m.deliveryCount ? ` · ${m.deliveryCount} abandon(s)` : ''}
              </span>
            )}
          </li>
        ))}
      </ol>
    </Card>
  );
}
