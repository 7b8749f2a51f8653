import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, get, type DevicePage, type DeviceRow } from '../api';
import { ConnectionBadge, CopyButton, ErrorBox, StatusPill } from '../components/ui';
import { ago, fmt } from '../format';
import { useLive } from '../live';
import { useTicking } from '../ticking';

const PAGE_SIZE = 50;

/**
 * The registry as a paged table: the server filters and pages, the browser holds 50 rows, so
 * 20,000 devices render as fast as 20. Rows on screen update live; the page refetches when the
 * set of matching devices may have changed (devices added or removed, or a connection filter).
 */
export function DevicesPage() {
  const params = new URLSearchParams(location.search);
  const [text, setText] = useState(params.get('q') ?? '');
  const [status, setStatus] = useState(params.get('status') ?? '');
  const [connection, setConnection] = useState(params.get('connection') ?? '');
  const [offset, setOffset] = useState(Number(params.get('offset') ?? 0) || 0);
  const [page, setPage] = useState<DevicePage>();
  const [error, setError] = useState<unknown>();
  const [newId, setNewId] = useState('');
  const query = useRef('');
  const refetchAt = useRef(0);

  const load = useCallback(async () => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
    if (text) q.set('q', text);
    if (status) q.set('status', status);
    if (connection) q.set('connection', connection);
    const asked = q.toString();
    query.current = asked;
    try {
      const result = await get<DevicePage>(`/devices?${asked}`);
      if (query.current === asked) setPage(result);
      // For the benchmark (bench/dashboard.ts): when the first page of rows reached the screen.
      if (performance.getEntriesByName('devices-rendered').length === 0) requestAnimationFrame(() => performance.mark('devices-rendered'));
    } catch (e) {
      setError(e);
    }
  }, [text, status, connection, offset]);

  useEffect(() => {
    const timer = setTimeout(() => void load(), text ? 150 : 0);
    const url = new URLSearchParams();
    if (text) url.set('q', text);
    if (status) url.set('status', status);
    if (connection) url.set('connection', connection);
    if (offset) url.set('offset', String(offset));
    history.replaceState(null, '', `/devices${url.size ? `?${url}` : ''}`);
    return () => clearTimeout(timer);
  }, [load]);

  // "/" focuses the filter (unless the user is typing somewhere already).
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      e.preventDefault();
      document.querySelector<HTMLInputElement>('input.search')?.focus();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  useTicking();

  const lastCounts = useRef({ registered: -1, connected: -1 });
  useLive(
    { rows: page?.rows.map((r) => r.deviceId) },
    {
      rows: ({ rows }: { rows: DeviceRow[]; removed: string[] }) => {
        setPage((p) => {
          if (!p) return p;
          const byId = new Map(rows.map((r) => [r.deviceId, r]));
          return { ...p, rows: p.rows.map((r) => byId.get(r.deviceId) ?? r) };
        });
      },
      summary: (s: { registered: number; connected: number }) => {
        const before = lastCounts.current;
        lastCounts.current = s;
        const membership = before.registered !== -1 && before.registered !== s.registered;
        const filtered = connection !== '' && before.connected !== -1 && before.connected !== s.connected;
        // At most one refetch a second, however fast a fleet churns.
        if ((membership || filtered) && Date.now() - refetchAt.current > 1000) {
          refetchAt.current = Date.now();
          void load();
        } else if (membership || filtered) {
          setTimeout(() => void load(), 1000);
        }
      },
    },
  );

  const act = async (action: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await action();
      await load();
    } catch (e) {
      setError(e);
    }
  };

  const matched = page?.matched ?? 0;
  const first = matched === 0 ? 0 : offset + 1;
  const lastRow = Math.min(offset + PAGE_SIZE, matched);
  const rows = page?.rows ?? [];
  return (
    <div class="page">
      <header class="page-head">
        <h1>Devices</h1>
        <p class="subtitle">{page ? `${fmt(page.total)} registered` : ' '}</p>
      </header>
      <div class="toolbar">
        <input
          type="search"
          class="search"
          placeholder="Filter by device ID…  ( / )"
          aria-label="Filter by device ID"
          value={text}
          onInput={(e) => {
            setText((e.target as HTMLInputElement).value);
            setOffset(0);
          }}
        />
        <select
          aria-label="Status"
          value={status}
          onChange={(e) => {
            setStatus((e.target as HTMLSelectElement).value);
            setOffset(0);
          }}
        >
          <option value="">Any status</option>
          <option value="enabled">Enabled</option>
          <option value="disabled">Disabled</option>
        </select>
        <select
          aria-label="Connection state"
          value={connection}
          onChange={(e) => {
            setConnection((e.target as HTMLSelectElement).value);
            setOffset(0);
          }}
        >
          <option value="">Any connection</option>
          <option value="Connected">Connected</option>
          <option value="Disconnected">Disconnected</option>
        </select>
        <span class="spacer" />
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const id = newId.trim();
            void act(async () => {
              await api('POST', '/devices', { deviceId: id });
              setNewId('');
            });
          }}
        >
          <input placeholder="new-device-id" aria-label="New device ID" value={newId} onInput={(e) => setNewId((e.target as HTMLInputElement).value)} />
          <button class="btn btn-primary" type="submit" disabled={newId.trim() === ''}>
            Add device
          </button>
        </form>
      </div>
      <ErrorBox error={error} />
      <div class="table-wrap">
        <table class="table devices-table" aria-label="Devices" aria-rowcount={matched}>
          <colgroup>
            <col class="c-id" />
            <col class="c-status" />
            <col class="c-conn" />
            <col class="c-time" />
            <col class="c-auth" />
            <col class="c-mod" />
            <col class="c-actions" />
          </colgroup>
          <thead>
            <tr>
              <th>Device ID</th>
              <th>Status</th>
              <th>Connection</th>
              <th>Last activity</th>
              <th>Auth</th>
              <th class="num">Modules</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.deviceId} data-device-id={row.deviceId}>
                <td class="mono ellipsis">
                  <a href={`/devices/${encodeURIComponent(row.deviceId)}`}>{row.deviceId}</a>
                </td>
                <td>
                  <StatusPill status={row.status} />
                </td>
                <td>
                  <ConnectionBadge state={row.connectionState} />
                </td>
                <td class="muted" title={row.lastActivityTime}>
                  {ago(row.lastActivityTime)}
                </td>
                <td class="muted">{row.authenticationType}</td>
                <td class="num muted" data-col="modules">
                  {row.modules}
                </td>
                <td class="actions">
                  <RowActions row={row} act={act} />
                </td>
              </tr>
            ))}
            {page && rows.length === 0 && (
              <tr>
                <td colSpan={7} class="empty">
                  {page.total === 0 ? 'No devices registered yet. Add one above, or run a fleet.' : 'No device matches the filter.'}
                </td>
              </tr>
            )}
            {/* Placeholder rows keep the table's height while the first page loads: no jump. */}
            {!page &&
              Array.from({ length: 12 }, () => (
                <tr class="placeholder">
                  <td colSpan={7}>&nbsp;</td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>
      <div class="pager">
        <span class="muted">
          {matched === 0 ? 'No devices' : `${fmt(first)}–${fmt(lastRow)} of ${fmt(matched)}`}
          {page && matched !== page.total ? ` (filtered from ${fmt(page.total)})` : ''}
        </span>
        <span class="spacer" />
        <button class="btn" type="button" disabled={offset === 0} onClick={() => setOffset(0)} aria-label="First page">
          «
        </button>
        <button class="btn" type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
          Previous
        </button>
        <button class="btn" type="button" disabled={offset + PAGE_SIZE >= matched} onClick={() => setOffset(offset + PAGE_SIZE)}>
          Next
        </button>
        <button
          class="btn"
          type="button"
          disabled={offset + PAGE_SIZE >= matched}
          onClick={() => setOffset(Math.floor((matched - 1) / PAGE_SIZE) * PAGE_SIZE)}
          aria-label="Last page"
        >
          »
        </button>
      </div>
    </div>
  );
}

function RowActions({ row, act }: { row: DeviceRow; act: (a: () => Promise<unknown>) => Promise<void> }) {
  const id = encodeURIComponent(row.deviceId);
  return (
    <div class="row-actions">
      <CopyButton
        label="Connection string"
        title={`Copy ${row.deviceId}'s connection string`}
        load={
          row.authenticationType === 'sas'
            ? () => get<{ connectionString: string }>(`/devices/${id}/connection-string`).then((r) => r.connectionString)
            : undefined
        }
      />
      <button
        type="button"
        class="btn btn-small"
        onClick={() => void act(() => api('PATCH', `/devices/${id}`, { status: row.status === 'enabled' ? 'disabled' : 'enabled' }))}
      >
        <span class="btn-fixed">{row.status === 'enabled' ? 'Disable' : 'Enable'}</span>
      </button>
      <button
        type="button"
        class="btn btn-small btn-danger"
        aria-label={`Delete ${row.deviceId}`}
        onClick={() => {
          if (confirm(`Delete device ${row.deviceId}? Its twin and keys are gone for good.`)) void act(() => api('DELETE', `/devices/${id}`));
        }}
      >
        Delete
      </button>
    </div>
  );
}
