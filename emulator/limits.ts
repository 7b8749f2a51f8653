/**
 * Limits the emulator sets where IoT Hub sets none or where a local tool needs one, kept in one
 * place so they are easy to find and to change. (Twin and method limits the hub documents still
 * sit beside the rules they bound; the architecture work gathers them here.)
 */

/** Dashboard (dashboard/server): rows the devices table fetches in one page at most. */
export const DASHBOARD_MAX_PAGE_ROWS = 200;
/** Dashboard: rows a query page shows at most (the page says when there were more). */
export const DASHBOARD_MAX_QUERY_ROWS = 1000;
/** Dashboard: device-job results listed per job at most. */
export const DASHBOARD_MAX_JOB_DEVICE_ROWS = 500;
/** Dashboard: devices one live-update stream may watch (a page of the devices table and then some). */
export const DASHBOARD_MAX_WATCHED_DEVICES = 500;
/** Dashboard: how often the live-update stream flushes what changed, in ms (about a few display frames). */
export const DASHBOARD_FLUSH_INTERVAL_MS = 100;
/** Dashboard: recorded entries (telemetry, twin, method, connection) sent per watched device per flush at most. */
export const DASHBOARD_MAX_ENTRIES_PER_FLUSH = 50;
/** Dashboard: the hub page's time series, one sample a second, this many seconds back. */
export const DASHBOARD_SERIES_SECONDS = 300;
/** Dashboard: a stream whose reader is this far behind is closed (the page reconnects and reloads). */
export const DASHBOARD_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
