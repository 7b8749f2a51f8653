import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, type DeviceDetails, type DeviceRow, type Entry } from '../api';
import { C2dCard } from '../components/c2d-card';
import { ConnectionFeed, TelemetryFeed, type C2dEvent, type Connection, type Telemetry } from '../components/feeds';
import { MethodCard } from '../components/method-card';
import { IdentityFacts } from '../components/identity-facts';
import { ModulesCard } from '../components/modules-card';
import { TwinCard } from '../components/twin-card';
import { ConnectionBadge, CopyButton, ErrorBox, StatusPill } from '../components/ui';
import { useLive } from '../live';
import { useTicking } from '../ticking';
import { navigate } from '../router';

const KEEP_TELEMETRY = 200;
const KEEP_EVENTS = 100;

const isTelemetry = (e: Entry): e is Telemetry => e.kind === 'telemetry';
// The device's own connection events; its modules' show in the Modules card and on their pages.
const isOwnConnection = (e: Entry): e is Connection => e.kind === 'connection' && e.moduleId === undefined;
const isC2d = (e: Entry): e is C2dEvent => e.kind === 'c2d';

export function DevicePage({ deviceId }: { deviceId: string }) {
  const [details, setDetails] = useState<DeviceDetails>();
  const [loadError, setLoadError] = useState<unknown>();
  const [telemetry, setTelemetry] = useState<Telemetry[]>([]);
  const [connections, setConnections] = useState<Connection[]>([]);
  const [c2d, setC2d] = useState<C2dEvent[]>([]);
  const [actionError, setActionError] = useState<unknown>();
  const asked = useRef(0);
  const id = encodeURIComponent(deviceId);

  // The newest request wins: live events can ask for several reloads while one is in flight.
  const reload = async (): Promise<DeviceDetails | undefined> => {
    const mine = ++asked.current;
    try {
      const d = await get<DeviceDetails>(`/devices/${id}`);
      if (mine === asked.current) setDetails(d);
      return d;
    } catch (e) {
      if (mine === asked.current) setLoadError(e);
      return undefined;
    }
  };

  useEffect(() => {
    setDetails(undefined);
    setLoadError(undefined);
    void reload().then((d) => {
      if (!d) return;
      const newest = [...d.entries].reverse();
      setTelemetry(newest.filter(isTelemetry));
      setConnections(newest.filter(isOwnConnection));
      setC2d(newest.filter(isC2d));
    });
  }, [deviceId]);

  useTicking();

  useLive(
    { rows: [deviceId], device: deviceId },
    {
      entries: ({ entries }: { entries: Entry[] }) => {
        const newest = [...entries].reverse();
        const t = newest.filter(isTelemetry);
        const c = newest.filter(isOwnConnection);
        const m = newest.filter(isC2d);
        if (t.length) setTelemetry((old) => [...t, ...old].slice(0, KEEP_TELEMETRY));
        if (c.length) setConnections((old) => [...c, ...old].slice(0, KEEP_EVENTS));
        if (m.length) setC2d((old) => [...m, ...old].slice(0, KEEP_EVENTS));
        // The twin, the modules' states and the queue depth are read anew when they moved.
        if (entries.some((e) => e.kind === 'twin' || e.kind === 'connection' || e.kind === 'c2d')) void reload();
      },
      // The header's facts follow the row (connection state, last activity) without a refetch;
      // a module added or removed elsewhere changes the row's count, and the list is read again.
      rows: ({ rows }: { rows: DeviceRow[] }) => {
        const row = rows.find((r) => r.deviceId === deviceId);
        if (!row) return;
        if (details && row.modules !== details.modules.length) void reload();
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
              if (confirm(`Delete device ${deviceId}? Its twin, modules and keys are gone for good.`))
                void act(async () => {
                  await api('DELETE', `/devices/${id}`);
                  navigate('/devices');
                });
            }}
          >
            Delete
          </button>
        </div>
        <IdentityFacts identity={device} twin={details?.twin}>
          <div>
            <dt>Modules</dt>
            <dd data-testid="module-count">{details?.modules.length ?? '—'}</dd>
          </div>
          <div>
            <dt>C2D queue</dt>
            <dd>{details?.c2dPending ?? '—'}</dd>
          </div>
        </IdentityFacts>
        <ErrorBox error={actionError} />
      </header>
      <div class="device-grid">
        <div class="col">
          <TwinCard base={`/devices/${id}`} title="Device twin" twin={details?.twin} onSaved={reload} />
          <C2dCard deviceId={deviceId} pending={details?.c2dPending ?? 0} history={c2d} />
        </div>
        <div class="col">
          <MethodCard base={`/devices/${id}`} />
          <ModulesCard deviceId={deviceId} modules={details?.modules ?? []} onChanged={reload} />
          <TelemetryFeed messages={telemetry} showModule />
          <ConnectionFeed events={connections} />
        </div>
      </div>
    </div>
  );
}
