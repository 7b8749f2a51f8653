import { useEffect, useState } from 'preact/hooks';
import { api, get, type DeviceDetails, type DeviceRow, type Entry, type Twin } from '../api';
import { Card, ConnectionBadge, CopyButton, ErrorBox, JsonBlock, StatusPill } from '../components/ui';
import { ago, clockTime, compactJson, dateTime, withoutMetadata } from '../format';
import { useLive } from '../live';
import { navigate } from '../router';

const KEEP_TELEMETRY = 200;
const KEEP_EVENTS = 100;

type Telemetry = Extract<Entry, { kind: 'telemetry' }>;
type Connection = Extract<Entry, { kind: 'connection' }>;

/** What the editor starts from: the writable part of the twin, as a patch would send it. */
function editable(twin: Twin): string {
  const desired = withoutMetadata(twin.properties.desired) as Record<string, unknown>;
  delete desired.$version;
  return JSON.stringify({ tags: twin.tags ?? {}, properties: { desired } }, null, 2);
}

export function DevicePage({ deviceId }: { deviceId: string }) {
  const [details, setDetails] = useState<DeviceDetails>();
  const [loadError, setLoadError] = useState<unknown>();
  const [telemetry, setTelemetry] = useState<Telemetry[]>([]);
  const [connections, setConnections] = useState<Connection[]>([]);
  const [actionError, setActionError] = useState<unknown>();
  const id = encodeURIComponent(deviceId);

  const reload = async (): Promise<DeviceDetails | undefined> => {
    try {
      const d = await get<DeviceDetails>(`/devices/${id}`);
      setDetails(d);
      return d;
    } catch (e) {
      setLoadError(e);
      return undefined;
    }
  };

  useEffect(() => {
    setDetails(undefined);
    setLoadError(undefined);
    void reload().then((d) => {
      if (!d) return;
      setTelemetry(d.entries.filter((e): e is Telemetry => e.kind === 'telemetry').reverse());
      setConnections(d.entries.filter((e): e is Connection => e.kind === 'connection').reverse());
    });
  }, [deviceId]);

  useLive(
    { rows: [deviceId], device: deviceId },
    {
      entries: ({ entries }: { entries: Entry[] }) => {
        const newest = [...entries].reverse();
        const t = newest.filter((e): e is Telemetry => e.kind === 'telemetry');
        const c = newest.filter((e): e is Connection => e.kind === 'connection');
        if (t.length) setTelemetry((old) => [...t, ...old].slice(0, KEEP_TELEMETRY));
        if (c.length) setConnections((old) => [...c, ...old].slice(0, KEEP_EVENTS));
        if (entries.some((e) => e.kind === 'twin' || e.kind === 'connection')) void reload();
      },
      // The header's facts follow the row (connection state, last activity) without a refetch.
      rows: ({ rows }: { rows: DeviceRow[] }) => {
        const row = rows.find((r) => r.deviceId === deviceId);
        if (row)
          setDetails((d) =>
            d
              ? {
                  ...d,
                  device: {
                    ...d.device,
                    status: row.status,
                    connectionState: row.connectionState,
                    connectionStateUpdatedTime: row.connectionStateUpdatedTime,
                    lastActivityTime: row.lastActivityTime,
                  },
                }
              : d,
          );
      },
    },
  );

  if (loadError) {
    return (
      <div class="page">
        <header class="page-head">
          <h1 class="mono">{deviceId}</h1>
        </header>
        <ErrorBox error={loadError} />
        <p>
          <a href="/devices">← All devices</a>
        </p>
      </div>
    );
  }

  const device = details?.device;
  const act = async (action: () => Promise<unknown>): Promise<void> => {
    setActionError(undefined);
    try {
      await action();
    } catch (e) {
      setActionError(e);
    }
  };
  return (
    <div class="page">
      <header class="page-head">
        <nav class="crumbs" aria-label="Breadcrumb">
          <a href="/devices">Devices</a> <span aria-hidden="true">/</span>
        </nav>
        <div class="title-row">
          <h1 class="mono">{deviceId}</h1>
          {device && <StatusPill status={device.status} />}
          {device && <ConnectionBadge state={device.connectionState} />}
          <span class="spacer" />
          <CopyButton text={details?.connectionString} label="Copy connection string" small={false} />
          {device && (
            <button
              class="btn"
              type="button"
              onClick={() =>
                void act(async () => {
                  await api('PATCH', `/devices/${id}`, { status: device.status === 'enabled' ? 'disabled' : 'enabled' });
                  await reload();
                })
              }
            >
              <span class="btn-fixed">{device.status === 'enabled' ? 'Disable' : 'Enable'}</span>
            </button>
          )}
          <button
            class="btn btn-danger"
            type="button"
            onClick={() => {
              if (confirm(`Delete device ${deviceId}? Its twin and keys are gone for good.`))
                void act(async () => {
                  await api('DELETE', `/devices/${id}`);
                  navigate('/devices');
                });
            }}
          >
            Delete
          </button>
        </div>
        <dl class="facts">
          <div>
            <dt>Last activity</dt>
            <dd title={device?.lastActivityTime}>{device ? ago(device.lastActivityTime) : '—'}</dd>
          </div>
          <div>
            <dt>Connection changed</dt>
            <dd>{device ? dateTime(device.connectionStateUpdatedTime) : '—'}</dd>
          </div>
          <div>
            <dt>Twin version</dt>
            <dd>{details?.twin.version ?? '—'}</dd>
          </div>
          <div>
            <dt>Twin etag</dt>
            <dd class="mono">{details?.twin.etag ?? '—'}</dd>
          </div>
          <div>
            <dt>Generation</dt>
            <dd class="mono">{device?.generationId ?? '—'}</dd>
          </div>
          <div>
            <dt>Modules</dt>
            <dd>0</dd>
          </div>
        </dl>
        <ErrorBox error={actionError} />
      </header>
      <div class="device-grid">
        <div class="col">
          <TwinCard deviceId={deviceId} twin={details?.twin} onSaved={reload} />
        </div>
        <div class="col">
          <MethodCard deviceId={deviceId} />
          <Card title="Telemetry" actions={<span class="muted small">{telemetry.length} shown · live</span>} class="scroll-card">
            <ol class="feed" aria-label="Telemetry" aria-live="polite">
              {telemetry.length === 0 && <li class="empty">No messages yet. Messages this device sends appear here as they arrive.</li>}
              {telemetry.map((m) => (
                <li key={m.seq} class="feed-item">
                  <span class="feed-time mono">{clockTime(m.enqueuedTime)}</span>
                  <code class="feed-body">{compactJson(m.payload)}</code>
                  {Object.keys(m.properties).length > 0 && (
                    <span class="props">
                      {Object.entries(m.properties).map(([k, v]) => (
                        <span class="prop">
                          <span class="prop-key">{k}</span>={v ?? 'null'}
                        </span>
                      ))}
                    </span>
                  )}
                </li>
              ))}
            </ol>
          </Card>
          <Card title="Connection events" class="scroll-card short">
            <ol class="feed" aria-label="Connection events">
              {connections.length === 0 && <li class="empty">No connection events recorded.</li>}
              {connections.map((c) => (
                <li key={c.seq} class="feed-item">
                  <span class="feed-time mono">{clockTime(c.time)}</span>
                  <ConnectionBadge state={c.event === 'connected' ? 'Connected' : 'Disconnected'} />
                  <span class="muted">{c.transport ?? c.reason ?? ''}</span>
                </li>
              ))}
            </ol>
          </Card>
        </div>
      </div>
    </div>
  );
}

function TwinCard({ deviceId, twin, onSaved }: { deviceId: string; twin?: Twin; onSaved: () => Promise<unknown> }) {
  const [text, setText] = useState('');
  const [dirty, setDirty] = useState(false);
  const [metadata, setMetadata] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [etag, setEtag] = useState<string>();
  // A change from elsewhere refreshes the editor unless the user is in the middle of an edit.
  useEffect(() => {
    if (twin && !dirty) {
      setText(editable(twin));
      setEtag(twin.etag);
    }
  }, [twin, dirty]);

  const send = async (): Promise<void> => {
    setError(undefined);
    setSaved(undefined);
    let patch: unknown;
    try {
      patch = JSON.parse(text);
    } catch (e) {
      setError(new Error(`The patch is not valid JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const updated = await api<Twin>('PATCH', `/devices/${encodeURIComponent(deviceId)}/twin`, { patch, etag });
      setSaved(`Saved: twin version ${updated.version}, desired $version ${String(updated.properties.desired.$version)}`);
      setDirty(false);
      await onSaved();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card
      title="Device twin"
      actions={
        <label class="check">
          <input type="checkbox" checked={metadata} onChange={(e) => setMetadata((e.target as HTMLInputElement).checked)} /> $metadata
        </label>
      }
    >
      <div class="twin-view">
        <JsonBlock
          value={twin ? (metadata ? { tags: twin.tags, properties: twin.properties } : withoutMetadata({ tags: twin.tags, properties: twin.properties })) : {}}
          class="twin-json"
        />
      </div>
      <form
        class="twin-editor"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label for="twin-patch" class="label">
          Patch tags and desired properties <span class="muted small">(merge patch; null removes a property; sent with If-Match {etag ?? ''})</span>
        </label>
        <textarea
          id="twin-patch"
          class="code"
          spellcheck={false}
          rows={10}
          value={text}
          onInput={(e) => {
            setText((e.target as HTMLTextAreaElement).value);
            setDirty(true);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <div class="row">
          <button class="btn btn-primary" type="submit">
            Send patch
          </button>
          <button class="btn" type="button" disabled={!dirty} onClick={() => setDirty(false)}>
            Discard changes
          </button>
          <span class="muted small">Ctrl+Enter sends</span>
          <span class="spacer" />
          <span class="ok small" role="status">
            {saved ?? ''}
          </span>
        </div>
        <ErrorBox error={error} />
      </form>
    </Card>
  );
}

interface MethodAnswer {
  status: number;
  payload: unknown;
  latencyMs: number;
}

function MethodCard({ deviceId }: { deviceId: string }) {
  const [name, setName] = useState('lockDoor');
  const [payload, setPayload] = useState('{}');
  const [responseTimeout, setResponseTimeout] = useState('30');
  const [connectTimeout, setConnectTimeout] = useState('0');
  const [answer, setAnswer] = useState<MethodAnswer>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const invoke = async (): Promise<void> => {
    setError(undefined);
    setAnswer(undefined);
    let body: unknown;
    try {
      body = payload.trim() === '' ? null : JSON.parse(payload);
    } catch (e) {
      setError(new Error(`The payload is not valid JSON: ${(e as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      setAnswer(
        await api<MethodAnswer>('POST', `/devices/${encodeURIComponent(deviceId)}/methods`, {
          methodName: name,
          payload: body,
          responseTimeoutInSeconds: Number(responseTimeout),
          connectTimeoutInSeconds: Number(connectTimeout),
        }),
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Direct method">
      <form
        class="method-form"
        onSubmit={(e) => {
          e.preventDefault();
          void invoke();
        }}
      >
        <div class="fields">
          <label class="field grow">
            Method name
            <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
          </label>
          <label class="field narrow">
            Response timeout (s)
            <input type="number" min="5" max="300" value={responseTimeout} onInput={(e) => setResponseTimeout((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field narrow">
            Connect timeout (s)
            <input type="number" min="0" max="300" value={connectTimeout} onInput={(e) => setConnectTimeout((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <label class="field">
          Payload (JSON)
          <textarea class="code" rows={3} spellcheck={false} value={payload} onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)} />
        </label>
        <div class="row">
          <button class="btn btn-primary" type="submit" disabled={busy}>
            <span class="btn-fixed">{busy ? 'Waiting…' : 'Invoke method'}</span>
          </button>
          <span class="spacer" />
          {answer && (
            <span class="small" data-testid="method-status">
              status <strong>{answer.status}</strong> · {answer.latencyMs.toFixed(1)} ms
            </span>
          )}
        </div>
        <ErrorBox error={error} />
        <div class="method-answer" aria-live="polite">
          {answer ? <JsonBlock value={answer.payload} class="method-payload" /> : <p class="muted small">The device's answer appears here.</p>}
        </div>
      </form>
    </Card>
  );
}
