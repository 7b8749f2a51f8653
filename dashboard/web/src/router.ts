import { useEffect, useState } from 'preact/hooks';

/** Path routing over the History API; the server answers every page path with index.html. */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = (): void => setPath(location.pathname);
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return path;
}

/** Plain clicks on same-origin links navigate in-page; modified clicks open tabs as usual. */
export function interceptLinks(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element).closest('a');
  if (!anchor || anchor.target || anchor.origin !== location.origin || anchor.hasAttribute('download')) return;
  event.preventDefault();
  // A link within the page (the skip link's #main) moves the focus there, as the keyboard expects.
  if (anchor.hash && anchor.pathname === location.pathname && anchor.search === location.search) {
    document.getElementById(decodeURIComponent(anchor.hash.slice(1)))?.focus();
    return;
  }
  navigate(anchor.pathname + anchor.search);
}
