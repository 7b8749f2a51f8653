import { useEffect, useRef } from 'preact/hooks';

export type LiveHandlers = Partial<Record<'summary' | 'rows' | 'entries' | 'jobs' | 'sample', (data: any) => void>>;

/**
 * One server-sent-event stream per page view: the URL says what the page shows (rows of the
 * table, one device, the jobs), the server batches what changed. Reopened when that changes;
 * EventSource reconnects on its own after a restart of the emulator.
 */
export function useLive(params: Record<string, string | undefined>, handlers: LiveHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString();
  useEffect(() => {
    const source = new EventSource(`/api/live?${query}`);
    for (const name of ['summary', 'rows', 'entries', 'jobs', 'sample'] as const) {
      source.addEventListener(name, (event) => ref.current[name]?.(JSON.parse((event as MessageEvent<string>).data)));
    }
    return () => source.close();
  }, [query]);
}
