import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Card, ErrorBox, JsonBlock } from '../components/ui';
import { compactJson, fmt } from '../format';

interface QueryResult {
  itemType: string;
  rows: Record<string, unknown>[];
  truncated: boolean;
  elapsedMs: number;
}

const EXAMPLES = [
  'SELECT * FROM devices',
  "SELECT * FROM devices WHERE connectionState = 'Connected'",
  'SELECT COUNT() AS devices, connectionState FROM devices GROUP BY connectionState',
  'SELECT * FROM devices.jobs',
];

/** Columns of a result: the twin's headline fields for twins, every key seen for projections. */
function columns(result: QueryResult): string[] {
  if (result.itemType === 'Twin') return ['deviceId', 'status', 'connectionState', 'lastActivityTime', 'tags', 'properties'];
  if (result.itemType === 'DeviceJob') return ['deviceId', 'jobId', 'jobType', 'status', 'outcome', 'error'];
  const keys = new Set<string>();
  for (const row of result.rows.slice(0, 100)) for (const k of Object.keys(row ?? {})) keys.add(k);
  return [...keys];
}

export function QueryPage() {
  const [text, setText] = useState(() => new URLSearchParams(location.search).get('q') ?? EXAMPLES[0]!);
  const [result, setResult] = useState<QueryResult>();
  const [error, setError] = useState<unknown>();
  const [view, setView] = useState<'table' | 'json'>('table');
  const [busy, setBusy] = useState(false);

  const run = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    history.replaceState(null, '', `/query?q=${encodeURIComponent(text)}`);
    try {
      setResult(await api<QueryResult>('POST', '/query', { query: text }));
    } catch (e) {
      setError(e);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };

  const position = error instanceof ApiError && typeof error.info?.position === 'number' ? error.info.position : undefined;
  const cols = result ? columns(result) : [];
  return (
    <div class="page">
      <header class="page-head">
        <h1>Query</h1>
        <p class="subtitle">
          The IoT Hub query language over twins and job records, as <code>POST /devices/query</code> runs it.
        </p>
      </header>
      <Card>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run();
          }}
        >
          <label for="query-text" class="label">
            Query
          </label>
          <textarea
            id="query-text"
            class="code query-text"
            rows={3}
            spellcheck={false}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void run();
              }
            }}
          />
          {position !== undefined && (
            <pre class="caret" role="note" aria-label={`error at position ${position}`}>
              {text.slice(0, position).replace(/[^\n]/g, ' ').split('\n').pop()}
              <span class="caret-mark">^</span> position {position}
            </pre>
          )}
          <div class="row">
            <button class="btn btn-primary" type="submit" disabled={busy}>
              Run query
            </button>
            <span class="muted small">Ctrl+Enter runs</span>
            <span class="spacer" />
            <select aria-label="Example queries" onChange={(e) => setText((e.target as HTMLSelectElement).value)} value="">
              <option value="" disabled>
                Examples…
              </option>
              {EXAMPLES.map((q) => (
                <option value={q}>{q}</option>
              ))}
            </select>
          </div>
          <ErrorBox error={error} />
        </form>
      </Card>
      {result && (
        <Card
          title={`${fmt(result.rows.length)}${result.truncated ? '+' : ''} result${result.rows.length === 1 ? '' : 's'}`}
          actions={
            <>
              <span class="muted small">
                {result.itemType} · {result.elapsedMs.toFixed(1)} ms{result.truncated ? ` · first ${fmt(result.rows.length)} shown` : ''}
              </span>
              <fieldset class="segmented small" aria-label="Result view">
                <label class={view === 'table' ? 'on' : ''}>
                  <input type="radio" name="view" checked={view === 'table'} onChange={() => setView('table')} />
                  Table
                </label>
                <label class={view === 'json' ? 'on' : ''}>
                  <input type="radio" name="view" checked={view === 'json'} onChange={() => setView('json')} />
                  JSON
                </label>
              </fieldset>
            </>
          }
        >
          {view === 'json' ? (
            <JsonBlock value={result.rows} class="result-json" />
          ) : (
            <div class="table-wrap">
              <table class="table compact" aria-label="Query results">
                <thead>
                  <tr>
                    {cols.map((c) => (
                      <th>{c}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {result.rows.length === 0 && (
                    <tr>
                      <td colSpan={Math.max(1, cols.length)} class="empty">
                        No results.
                      </td>
                    </tr>
                  )}
                  {result.rows.map((row) => (
                    <tr>
                      {cols.map((c) => {
                        const v = row?.[c];
                        if (c === 'deviceId' && typeof v === 'string')
                          return (
                            <td class="mono">
                              <a href={`/devices/${encodeURIComponent(v)}`}>{v}</a>
                            </td>
                          );
                        return (
                          <td class="mono small ellipsis" title={v === undefined ? '' : compactJson(v)}>
                            {v === undefined ? '' : compactJson(v)}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      )}
    </div>
  );
}
