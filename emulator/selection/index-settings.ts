import { deviceReader, moduleReader } from './record-paths.js';
import type { QueryIndexBuild, QueryIndexBuildSlice, QueryIndexSettings } from './twin-indexes.js';
import { QUERY_MAX_INDEXES } from '../limits.js';

/**
 * `--query-index` (docs/scaling.md §3.2): a comma-separated list of twin paths to index from
 * start on (`tags.env,properties.reported.firmware`; built in the background, or by the first
 * query: `--query-index-build`), or `off` for no indexes at all (every query scans). Names are case-insensitive, as in queries; a path no index can serve is an error
 * here rather than a silent scan later.
 */
export function parseQueryIndexPaths(text: string): string[] | 'off' {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === 'off') return 'off';
  const paths = trimmed
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const path of paths) {
    const segments = path.toLowerCase().split('.');
    if (segments.some((s) => s === '') || (deviceReader(segments) === undefined && moduleReader(segments) === undefined)) {
      throw new Error(
        `'${path}' is not a path a query index can serve: deviceId, moduleId, status, connectionState, tags.<name>…, properties.desired.<name>… or properties.reported.<name>…`,
      );
    }
  }
  if (paths.length > QUERY_MAX_INDEXES) throw new Error(`at most ${QUERY_MAX_INDEXES} query indexes can be declared, not ${paths.length}`);
  return paths;
}

/** `--query-index-build`: when the declared indexes are built (docs/scaling.md §3.2). */
export const QUERY_INDEX_BUILDS: readonly QueryIndexBuild[] = ['background', 'first-query'];

/** The selection's settings from the hub's options (`--query-index`, `--query-index-after`, `--query-index-build`). */
export function queryIndexSettings(
  paths: readonly string[] | 'off',
  after: number,
  build: QueryIndexBuild = 'background',
  buildSlice?: QueryIndexBuildSlice,
): QueryIndexSettings {
  if (paths === 'off') return { enabled: false, declared: [], after: 0, build };
  return { enabled: true, declared: paths.map((p) => p.toLowerCase().split('.')), after, build, ...(buildSlice && { buildSlice }) };
}
