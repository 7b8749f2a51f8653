import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, type Entry, type ModuleDetails } from '../api';
import { ConnectionFeed, TelemetryFeed, type Connection, type Telemetry } from '../components/feeds';
import { IdentityFacts } from '../components/identity-facts';
import { MethodCard } from '../components/method-card';
import { modulePath } from '../components/modules-card';
import { TwinCard } from '../components/twin-card';
import { ConnectionBadge, CopyButton, ErrorBox } from '../components/ui';
import { useLive } from '../live';
import { useTicking } from '../ticking';
import { navigate } from '../router';

const KEEP_TELEMETRY = 200;
const KEEP_EVENTS = 100;

/**
 * A module identity: its twin (the device twin's rules, `Registry.getModuleTwin` /
 * `updateModuleTwin`), a direct-method form that reaches the module's own connection
 * (`invokeDeviceMethod(deviceId, moduleId, …)`), its telemetry and connection events, live.
 */
export function ModulePage({ deviceId, moduleId }: { deviceId: string; moduleId: string }) {
  const [details, setDetails] = useState<ModuleDetails>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [telemetry, setTelemetry] = useState<Telemetry[]>([]);
  const [connections, setConnections] = useState<Connection[]>([]);
  const asked = useRef(0);
  const base = modulePath(deviceId, moduleId);
  const mine = (e: Entry): boolean => e.moduleId === moduleId;

  const reload = async (): Promise<void> => {
    const n = ++asked.current;
    try {
      const d = await get<ModuleDetails>(base);
      if (n === asked.current) setDetails(d);
    } catch (e) {
      if (n === asked.current) setLoadError(e);
    }
  };

  useEffect(() => {
    setDetails(undefined);
    setLoadError(undefined);
    setTelemetry([]);
    setConnections([]);
    void reload();
    // What the module did before the page opened, from the device's recorded entries.
    get<{ entries: Entry[] }>(`/devices/${encodeURIComponent(deviceId)}`).then((d) => {
      const newest = d.entries.filter(mine).reverse();
      setTelemetry(newest.filter((e): e is Telemetry => e.kind === 'telemetry'));
      setConnections(newest.filter((e): e is Connection => e.kind === 'connection'));
    }, setLoadError);
  }, [deviceId, moduleId]);

  useTicking();

  useLive(
    { device: deviceId },
    {
      entries: ({ entries }: { entries: Entry[] }) => {
        const newest = entries.filter(mine).reverse();
        const t = newest.filter((e): e is Telemetry => e.kind === 'telemetry');
        const c = newest.filter((e): e is Connection => e.kind === 'connection');
        if (t.length) setTelemetry((old) => [...t, ...old].slice(0, KEEP_TELEMETRY));
        if (c.length) setConnections((old) => [...c, ...old].slice(0, KEEP_EVENTS));
        if (newest.some((e) => e.kind === 'twin' || e.kind === 'connection' || e.kind === 'telemetry')) void reload();
      },
    },
  );

  const crumbs = (
    <nav class="crumbs" aria-label="Breadcrumb">
      <a href="/devices">Devices</a> <span aria-hidden="true">/</span>{' '}
      <a class="mono" href={`/devices/${encodeURIComponent(deviceId)}`}>
        {deviceId}
      </a>{' '}
      <span aria-hidden="true">/ modules /</span>
    </nav>
  );
  if (loadError) {
    return (
      <div class="page">
        <header class="page-head">
          {crumbs}
          <h1 class="mono">{moduleId}</h1>
        </header>
        <ErrorBox error={loadError} />
      </div>
    );
  }
  const module = details?.module;
  return (
    <div class="page">
      <header class="page-head">
        {crumbs}
        <div class="title-row">
          <h1 class="mono">{moduleId}</h1>
          {module && <ConnectionBadge state={module.connectionState} />}
          <span class="spacer" />
          <CopyButton text={details?.connectionString} label="Copy connection string" small={false} />
          <button
            class="btn btn-danger"
            type="button"
            onClick={() => {
              if (confirm(`Delete module ${moduleId} of ${deviceId}? Its twin and keys are gone for good.`))
                void (async () => {
                  setActionError(undefined);
                  try {
                    await api('DELETE', base);
                    navigate(`/devices/${encodeURIComponent(deviceId)}`);
                  } catch (e) {
                    setActionError(e);
                  }
                })();
            }}
          >
            Delete
          </button>
        </div>
        <IdentityFacts identity={module} twin={details?.twin}>
          <div>
            <dt>Managed by</dt>
            <dd>{module ? (module.managedBy ?? '—') : '—'}</dd>
          </div>
        </IdentityFacts>
        <ErrorBox error={actionError} />
      </header>
      <div class="device-grid">
        <div class="col">
          <TwinCard base={base} title="Module twin" twin={details?.twin} onSaved={reload} />
        </div>
        <div class="col">
          <MethodCard base={base} defaultName="" />
          <TelemetryFeed messages={telemetry} />
          <ConnectionFeed events={connections} />
        </div>
      </div>
    </div>
  );
}
