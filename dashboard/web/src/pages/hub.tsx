import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, get, type HubInfo, type HubSample } from '../api';
import { TimeChart } from '../components/chart';
import { Card, CopyButton, ErrorBox, Stat } from '../components/ui';
import { fmt } from '../format';
import { useLive } from '../live';

const PRESETS: [string, number][] = [
  ['+1 min', 60],
  ['+1 h', 3600],
  ['+1 day', 86400],
];

export function HubPage() {
  const [info, setInfo] = useState<HubInfo>();
  const [history, setHistory] = useState<HubSample[]>([]);
  const [now, setNow] = useState<HubSample>();
  const [offset, setOffset] = useState(0);
  const [seconds, setSeconds] = useState('3600');
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(Date.now());

  useEffect(() => {
    get<HubInfo>('/hub').then((hub) => {
      setInfo(hub);
      setHistory(hub.history);
      setNow(hub.now);
      setOffset(hub.clock.offsetSeconds);
    }, setError);
    const timer = setInterval(() => setTick(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  useLive(
    {},
    {
      sample: (s: HubSample) => {
        setNow(s);
        setHistory((h) => [...h.slice(-299), s]);
      },
      summary: (s: { registered: number; connected: number }) => setNow((n) => (n ? { ...n, ...s } : n)),
    },
  );

  const series = useMemo(() => {
    const t = history.map((s) => s.t);
    return { t, connected: history.map((s) => s.connected), telemetry: history.map((s) => s.telemetry), methods: history.map((s) => s.methods) };
  }, [history]);

  const advance = async (by: number): Promise<void> => {
    setError(undefined);
    try {
      const clock = await api<{ offsetSeconds: number }>('POST', '/clock/advance', { seconds: by });
      setOffset(clock.offsetSeconds);
    } catch (e) {
      setError(e);
    }
  };

  const last = history[history.length - 1];
  const emulatorNow = new Date(tick + offset * 1000);
  return (
    <div class="page">
      <header class="page-head">
        <h1>Hub</h1>
        <p class="subtitle">{info ? info.hostName : ' '}</p>
      </header>
      <div class="stats">
        <Stat label="Devices registered" value={now ? fmt(now.registered) : '—'} hint={<a href="/devices">Devices →</a>} />
        <Stat
          label="Connected"
          value={now ? fmt(now.connected) : '—'}
          hint={now && now.registered > 0 ? `${Math.round((now.connected / now.registered) * 100)} % of registered` : ' '}
        />
        <Stat label="Messages / s" value={last ? fmt(last.telemetry) : '—'} hint="device-to-cloud, last second" />
        <Stat label="Method calls / s" value={last ? fmt(last.methods) : '—'} hint={last ? `${fmt(last.methodFailures)} failed` : ' '} />
        <Stat label="Active jobs" value={now ? fmt(now.activeJobs) : '—'} hint={<a href="/jobs">Jobs →</a>} />
      </div>
      <div class="grid-3">
        <Card title="Connected devices">
          <TimeChart label="connected" times={series.t} values={series.connected} color="#0b6bcb" />
        </Card>
        <Card title="Telemetry messages / s">
          <TimeChart label="messages/s" times={series.t} values={series.telemetry} color="#0f9d58" />
        </Card>
        <Card title="Method calls / s">
          <TimeChart label="calls/s" times={series.t} values={series.methods} color="#8b5cf6" />
        </Card>
      </div>
      <div class="grid-2">
        <Card title="Emulator clock">
          <p class="clock" aria-live="off">
            <span class="clock-time">{emulatorNow.toISOString().replace('T', ' ').slice(0, 19)} UTC</span>
            <span class="muted">{offset > 0 ? `${fmt(offset)} s ahead of real time` : 'real time'}</span>
          </p>
          <p class="muted small">Jobs run on this clock. Moving it forward starts scheduled jobs whose start time it passes; it never goes back.</p>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              void advance(Number(seconds));
            }}
          >
            <label class="field-inline">
              Advance by
              <input
                type="number"
                min="0"
                step="1"
                value={seconds}
                onInput={(e) => setSeconds((e.target as HTMLInputElement).value)}
                aria-label="seconds to advance"
              />
              s
            </label>
            <button class="btn btn-primary" type="submit">
              Advance
            </button>
            {PRESETS.map(([label, by]) => (
              <button class="btn" type="button" onClick={() => void advance(by)}>
                {label}
              </button>
            ))}
          </form>
          <ErrorBox error={error} />
        </Card>
        <Card title="Connect a back end" actions={<CopyButton text={info?.connectionString} label="Copy" title="Copy the hub connection string" />}>
          <p class="muted small">
            The hub connection string (iothubowner, a well-known development key) for azure-iothub, az-cli style tools and the tutorials:
          </p>
          <code class="secret">{info?.connectionString ?? ' '}</code>
          <p class="muted small">Device connection strings are on each device's page.</p>
        </Card>
      </div>
    </div>
  );
}
