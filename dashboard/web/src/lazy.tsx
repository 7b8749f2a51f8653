import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** A page loaded on first use, so the bundle every page needs stays small. */
export function lazy<P extends object = Record<string, never>>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | undefined;
  let loading: Promise<ComponentType<P>> | undefined;
  return function Lazy(props: P) {
    const [Page, setPage] = useState<ComponentType<P> | undefined>(() => loaded);
    useEffect(() => {
      if (loaded) return;
      loading ??= load().then((page) => (loaded = page));
      void loading.then((page) => setPage(() => page));
    }, []);
    return Page ? <Page {...props} /> : <div class="page" aria-busy="true" />;
  };
}
