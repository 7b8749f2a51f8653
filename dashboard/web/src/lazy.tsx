import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** A page loaded on first use, so the bundle every page needs stays small. */
export function lazy(load: () => Promise<ComponentType>): ComponentType {
  let loaded: ComponentType | undefined;
  let loading: Promise<ComponentType> | undefined;
  return function Lazy() {
    const [Page, setPage] = useState<ComponentType | undefined>(() => loaded);
    useEffect(() => {
      if (loaded) return;
      loading ??= load().then((page) => (loaded = page));
      void loading.then((page) => setPage(() => page));
    }, []);
    return Page ? <Page /> : <div class="page" aria-busy="true" />;
  };
}
