import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api';
import { Card, ErrorBox } from '../components/ui';
import { dateTime, fmt } from '../format';
import { useLive } from '../live';

interface Rule {
  id: string;
  kind: string;
  target: Record<string, unknown>;
  operation?: string;
  fraction: number;
  status?: number;
  errorCode?: string;
  delayMs: number;
  durationSeconds?: number;
  createdAt: string;
  expiresAt?: string;
  [key: string]: unknown;
}

interface Throttling {
  tier: string | null;
  units?: number;
  ratesPerSecond?: Record<string, number>;
  maxActiveJobs?: number;
  dailyMessages?: number;
  meterBytes?: number;
  quota?: Record<string, unknown>;
}

/** iothub_emulator_throttled_total as /metrics shows it, and the day's quota when a tier is set. */
interface ThrottleFigures {
  counts: { operation: string; outcome: string; count: number }[];
  quota?: { used: number; limit: number };
}

/** A starting point per kind, as docs/throttling-and-faults.md shows them. */
const PRESETS: Record<string, object> = {
  failOperations: { kind: 'failOperations', operation: 'methods', status: 500, fraction: 0.5, seed: 1 },
  dropConnections: { kind: 'dropConnections', target: { prefix: 'lockdoor-00' } },
  refuseConnects: { kind: 'refuseConnects', target: { fraction: 0.1 }, durationSeconds: 60 },
  delayPubacks: { kind: 'delayPubacks', fraction: 0.5, delayMs: 2000 },
  dropTelemetry: { kind: 'dropTelemetry', fraction: 0.1, seed: 1 },
  restart: { kind: 'restart', durationSeconds: 5 },
};

const countOf = (figures: ThrottleFigures, operation: string, outcome: string): number =>
  figures.counts.find((c) => c.operation === operation && c.outcome === outcome)?.count ?? 0;

const summary = (rule: Rule): string => {
  const { id: _id, kind: _kind, createdAt: _c, expiresAt: _e, seed: _s, connackCode: _cc, delayMs, fraction, ...rest } = rule;
  const shown: Record<string, unknown> = { ...rest };
  if (fraction !== 1) shown.fraction = fraction;
  if (delayMs) shown.delayMs = delayMs;
  if (Object.keys(rule.target ?? {}).length === 0) delete shown.target;
  return JSON.stringify(shown);
};

export function FaultsPage() {
  const [rules, setRules] = useState<Rule[]>([]);
  const [throttling, setThrottling] = useState<Throttling>();
  const [figures, setFigures] = useState<ThrottleFigures>({ counts: [] });
  const [kind, setKind] = useState('failOperations');
  const [text, setText] = useState(JSON.stringify(PRESETS.failOperations, null, 2));
  const [error, setError] = useState<unknown>();
  const [added, setAdded] = useState<string>();

  const load = (): void => {
    get<{ rules: Rule[]; throttling: Throttling; throttled: ThrottleFigures }>('/faults').then((r) => {
      setRules(r.rules);
      setThrottling(r.throttling);
      setFigures(r.throttled);
    }, setError);
  };
  useEffect(load, []);
  useLive({ faults: '1' }, { faults: (list: Rule[]) => setRules(list), throttled: (f: ThrottleFigures) => setFigures(f) });

  const add = async (): Promise<void> => {
    setError(undefined);
    setAdded(undefined);
    let rule: unknown;
    try {
      rule = JSON.parse(text);
    } catch (e) {
      setError(new Error(`The rule is not valid JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const made = await api<Rule & { affected?: string[] }>('POST', '/faults', rule);
      setAdded(`Rule ${made.id} added${made.affected ? `: ${fmt(made.affected.length)} device(s) affected` : ''}`);
      setRules((list) => (list.some((r) => r.id === made.id) ? list : [...list, made]));
    } catch (e) {
      setError(e);
    }
  };

  const remove = async (path: string): Promise<void> => {
    setError(undefined);
    try {
      await api('DELETE', path);
      load();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="page">
      <header class="page-head">
        <h1>Faults</h1>
        <p class="subtitle">
          Make devices and routes fail on purpose (the chaos API, <code>/$emulator/faults</code>), and the throttling tier in force.
        </p>
      </header>
      <div class="grid-2">
        <Card title="Add a rule">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void add();
            }}
          >
            <div class="fields">
              <label class="field">
                Kind
                <select
                  value={kind}
                  onChange={(e) => {
                    const k = (e.target as HTMLSelectElement).value;
                    setKind(k);
                    setText(JSON.stringify(PRESETS[k], null, 2));
                  }}
                >
                  {Object.keys(PRESETS).map((k) => (
                    <option value={k}>{k}</option>
                  ))}
                </select>
              </label>
            </div>
            <label for="fault-rule" class="label">
              Rule (JSON: target, fraction, status or errorCode, delayMs, durationSeconds, seed)
            </label>
            <textarea id="fault-rule" class="code" rows={8} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
            <div class="row">
              <button class="btn btn-primary" type="submit">
                Add rule
              </button>
              <span class="spacer" />
              <span class="ok small" role="status">
                {added ?? ''}
              </span>
            </div>
            <ErrorBox error={error} />
          </form>
        </Card>
        <Card title="Throttling">
          {throttling?.tier ? (
            <>
              <p>
                Tier <strong>{throttling.tier}</strong> × {throttling.units} unit(s) · {fmt(throttling.maxActiveJobs ?? 0)} active job(s) ·{' '}
                {fmt(throttling.dailyMessages ?? 0)} messages a day of {fmt((throttling.meterBytes ?? 0) / 1024)} KB
              </p>
              {figures.quota && (
                <p class="small" data-testid="quota">
                  Today's quota: <strong>{fmt(figures.quota.used)}</strong> of {fmt(figures.quota.limit)} messages used (resets at 00:00 UTC of the emulator
                  clock)
                </p>
              )}
              <table class="table compact" aria-label="Throttle rates">
                <thead>
                  <tr>
                    <th>operation</th>
                    <th class="num">per second</th>
                    <th class="num" title="iothub_emulator_throttled_total: held back (shaped)">
                      delayed
                    </th>
                    <th class="num" title="iothub_emulator_throttled_total: refused (429, CONNACK 3)">
                      throttled
                    </th>
                    <th class="num" title="iothub_emulator_throttled_total: refused over the daily quota">
                      quota
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(throttling.ratesPerSecond ?? {}).map(([op, rate]) => (
                    <tr data-operation={op}>
                      <td class="mono">{op}</td>
                      <td class="num">{fmt(Math.round(rate * 100) / 100)}</td>
                      {(['delayed', 'throttled', 'quota'] as const).map((outcome) => (
                        <td class="num" data-outcome={outcome}>
                          {fmt(countOf(figures, op, outcome))}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="muted small">Counts since the hub started, as /metrics shows them (iothub_emulator_throttled_total).</p>
            </>
          ) : (
            <p class="muted">
              Off: the emulator answers as fast as it can. Start it with <code>--tier S1</code> (F1, S1–S3, B1–B3) and <code>--units N</code> for IoT Hub's
              rates and daily quota.
            </p>
          )}
        </Card>
      </div>
      <Card
        title={`Rules in force (${rules.length})`}
        actions={
          <button class="btn btn-small" type="button" disabled={rules.length === 0} onClick={() => void remove('/faults')}>
            Remove all
          </button>
        }
      >
        <table class="table" aria-label="Fault rules">
          <colgroup>
            <col style={{ width: '70px' }} />
            <col style={{ width: '160px' }} />
            <col />
            <col style={{ width: '180px' }} />
            <col style={{ width: '100px' }} />
          </colgroup>
          <thead>
            <tr>
              <th>id</th>
              <th>kind</th>
              <th>rule</th>
              <th>until</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">
                  No rules: nothing fails on purpose.
                </td>
              </tr>
            )}
            {rules.map((rule) => (
              <tr data-rule-id={rule.id}>
                <td class="mono">{rule.id}</td>
                <td class="mono">{rule.kind}</td>
                <td class="mono small ellipsis" title={JSON.stringify(rule)}>
                  {summary(rule)}
                </td>
                <td class="muted small">{rule.expiresAt ? dateTime(rule.expiresAt) : 'removed by hand'}</td>
                <td class="actions">
                  <button
                    class="btn btn-small"
                    type="button"
                    aria-label={`Remove rule ${rule.id}`}
                    onClick={() => void remove(`/faults/${encodeURIComponent(rule.id)}`)}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
