import { useEffect, useRef } from 'preact/hooks';

// Each page names the shape it expects of an event; `never` lets a handler take any one of them.
export type LiveHandlers = Partial<Record<'summary' | 'rows' | 'entries' | 'jobs' | 'sample' | 'faults' | 'throttled', (data: never) => void>>;

/**
 * One server-sent-event stream per page view: the URL says what the page shows (rows of the
 * table, one device, the jobs), the server batches what changed. Reopened when that changes;
 * EventSource reconnects on its own after a restart of the emulator.
 */
export function useLive(params: Record<string, string | readonly string[] | undefined>, handlers: LiveHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of typeof value === 'string' ? [value] : (value ?? [])) if (v !== '') search.append(name, v);
  }
  const query = search.toString();
  useEffect(() => {
    const source = new EventSource(`/api/live?${query}`);
    for (const name of ['summary', 'rows', 'entries', 'jobs', 'sample', 'faults', 'throttled'] as const) {
      source.addEventListener(name, (event) => ref.current[name]?.(JSON.parse((event as MessageEvent<string>).data) as never));
    }
    return () => source.close();
  }, [query]);
}
