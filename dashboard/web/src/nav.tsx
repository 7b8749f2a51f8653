import type { ComponentChildren } from 'preact';
import { lazy } from './lazy';
import { DevicesPage } from './pages/devices';
import { FaultsPage } from './pages/faults';
import { JobsPage } from './pages/jobs';
import { QueryPage } from './pages/query';

/**
 * The pages, in sidebar order. A hub-level part is one more entry here and one more page, as
 * Faults was; a device-level part is one more card on the device page, as cloud-to-device
 * messages and modules were (a module's own page sits under its device's).
 */
export interface NavEntry {
  path: string;
  label: string;
  icon: ComponentChildren;
  /** the page for a path under this entry, or undefined when the path is not this entry's */
  match(path: string): ComponentChildren | undefined;
}

// The hub page carries the chart library (uPlot): loaded only when it is opened. A device's and a
// module's pages (twin editor, method, C2D and module forms) too: the devices table loads without them.
const HubPage = lazy(() => import('./pages/hub').then((m) => m.HubPage));
const DevicePage = lazy<{ deviceId: string }>(() => import('./pages/device').then((m) => m.DevicePage));
const ModulePage = lazy<{ deviceId: string; moduleId: string }>(() => import('./pages/module').then((m) => m.ModulePage));

const icon = (d: string): ComponentChildren => (
  <svg
    viewBox="0 0 20 20"
    width="18"
    height="18"
    aria-hidden="true"
    fill="none"
    stroke="currentColor"
    stroke-width="1.6"
    stroke-linecap="round"
    stroke-linejoin="round"
  >
    <path d={d} />
  </svg>
);

export const nav: NavEntry[] = [
  { path: '/', label: 'Hub', icon: icon('M3 10h3l2-5 4 10 2-5h3'), match: (p) => (p === '/' ? <HubPage /> : undefined) },
  {
    path: '/devices',
    label: 'Devices',
    icon: icon('M4 4h12v9H4zM7 16h6M10 13v3'),
    match: (p) => {
      if (p === '/devices') return <DevicesPage />;
      // Device and module ids cannot contain '/' (they are percent-encoded in the path).
      const mod = /^\/devices\/([^/]+)\/modules\/([^/]+)$/.exec(p);
      if (mod) return <ModulePage deviceId={decodeURIComponent(mod[1]!)} moduleId={decodeURIComponent(mod[2]!)} />;
      const m = /^\/devices\/(.+)$/.exec(p);
      return m ? <DevicePage deviceId={decodeURIComponent(m[1]!)} /> : undefined;
    },
  },
  { path: '/jobs', label: 'Jobs', icon: icon('M5 4h10M5 10h10M5 16h6M3 4h0M3 10h0M3 16h0'), match: (p) => (p === '/jobs' ? <JobsPage /> : undefined) },
  {
    path: '/query',
    label: 'Query',
    icon: icon('M9 15a6 6 0 1 1 0-12 6 6 0 0 1 0 12zM13.5 13.5 17 17'),
    match: (p) => (p === '/query' ? <QueryPage /> : undefined),
  },
  { path: '/faults', label: 'Faults', icon: icon('M10 3 2 17h16L10 3zM10 8v4M10 14.5v.01'), match: (p) => (p === '/faults' ? <FaultsPage /> : undefined) },
];
