import { useEffect, useState } from 'preact/hooks';
import { get, type HubInfo } from './api';
import { nav } from './nav';
import { interceptLinks, usePath } from './router';

export function App() {
  const path = usePath();
  const [hostName, setHostName] = useState('');
  useEffect(() => {
    get<HubInfo>('/hub').then(
      (h) => setHostName(h.hostName),
      () => undefined,
    );
  }, []);
  let page: preact.ComponentChildren | undefined;
  let current = nav[0]!;
  for (const entry of nav) {
    page = entry.match(path);
    if (page !== undefined) {
      current = entry;
      break;
    }
  }
  useEffect(() => {
    document.title = `${current.label} · IoT Hub emulator`;
    document.querySelector<HTMLElement>('main')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [path]);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions lint/a11y/useKeyWithClickEvents: delegated handling of link clicks; links themselves take Enter
    <div class="shell" onClick={interceptLinks}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <aside class="sidebar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <div>
            <div class="brand-name">IoT Hub emulator</div>
            <div class="brand-host mono">{hostName || ' '}</div>
          </div>
        </div>
        <nav aria-label="Pages">
          <ul>
            {nav.map((entry) => (
              <li>
                <a
                  href={entry.path}
                  class={entry === current && page !== undefined ? 'active' : ''}
                  aria-current={entry === current && page !== undefined ? 'page' : undefined}
                >
                  {entry.icon}
                  <span>{entry.label}</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="sidebar-foot muted small">Local · offline · no keys needed</div>
      </aside>
      <main id="main" tabIndex={-1}>
        {page ?? (
          <div class="page">
            <h1>Not found</h1>
            <p>
              No page at {path}. <a href="/">Back to the hub</a>
            </p>
          </div>
        )}
      </main>
    </div>
  );
}
