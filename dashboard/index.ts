/** The web dashboard: its server takes the hub's public services and the scheduler. */
export { DEFAULT_DASHBOARD_PORT, startDashboard, type Dashboard, type DashboardOptions } from './server/dashboard-server.js';
export type { DashboardDeps } from './server/deps.js';
