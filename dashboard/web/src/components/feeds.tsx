import type { Entry } from '../api';
import { clockTime, compactJson } from '../format';
import { Card, ConnectionBadge } from './ui';

export type Telemetry = Extract<Entry, { kind: 'telemetry' }>;
export type Connection = Extract<Entry, { kind: 'connection' }>;
export type C2dEvent = Extract<Entry, { kind: 'c2d' }>;

export function Props({ properties }: { properties: Record<string, string | null> }) {
  if (Object.keys(properties).length === 0) return null;
  return (
    <span class="props">
      {Object.entries(properties).map(([k, v]) => (
        <span class="prop" key={k}>
          <span class="prop-key">{k}</span>={v ?? 'null'}
        </span>
      ))}
    </span>
  );
}

/** Messages an identity sent, newest first; a module's carry its id on the device's page. */
export function TelemetryFeed({ messages, showModule = false }: { messages: Telemetry[]; showModule?: boolean }) {
  return (
    <Card title="Telemetry" actions={<span class="muted small">{messages.length} shown · live</span>} class="scroll-card">
      <ol class="feed" aria-label="Telemetry" aria-live="polite">
        {messages.length === 0 && <li class="empty">No messages yet. Messages sent from here appear as they arrive.</li>}
        {messages.map((m) => (
          <li key={m.seq} class="feed-item">
            <span class="feed-time mono">{clockTime(m.enqueuedTime)}</span>
            {showModule && m.moduleId !== undefined && <span class="tag mono">{m.moduleId}</span>}
            <code class="feed-body">{compactJson(m.payload)}</code>
            <Props properties={m.properties} />
          </li>
        ))}
      </ol>
    </Card>
  );
}

export function ConnectionFeed({ events }: { events: Connection[] }) {
  return (
    <Card title="Connection events" class="scroll-card short">
      <ol class="feed" aria-label="Connection events">
        {events.length === 0 && <li class="empty">No connection events recorded.</li>}
        {events.map((c) => (
          <li key={c.seq} class="feed-item">
            <span class="feed-time mono">{clockTime(c.time)}</span>
            <ConnectionBadge state={c.event === 'connected' ? 'Connected' : 'Disconnected'} />
            <span class="muted">{c.transport ?? c.reason ?? ''}</span>
          </li>
        ))}
      </ol>
    </Card>
  );
}
