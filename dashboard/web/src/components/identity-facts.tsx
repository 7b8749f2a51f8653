import type { ComponentChildren } from 'preact';
import type { Twin } from '../api';
import { ago, dateTime } from '../format';

/** What a device's and a module's page both know of the identity (a dash until it has loaded). */
export interface IdentityFactsOf {
  lastActivityTime: string;
  connectionStateUpdatedTime: string;
  generationId: string;
}

/**
 * The facts under a device's or a module's title: activity, connection, twin version and etag,
 * generation; each page adds its own after them (`children`: a device's modules and C2D queue, a
 * module's managedBy).
 */
export function IdentityFacts({ identity, twin, children }: { identity?: IdentityFactsOf; twin?: Twin; children?: ComponentChildren }) {
  return (
    <dl class="facts">
      <div>
        <dt>Last activity</dt>
        <dd title={identity?.lastActivityTime}>{identity ? ago(identity.lastActivityTime) : '—'}</dd>
      </div>
      <div>
        <dt>Connection changed</dt>
        <dd>{identity ? dateTime(identity.connectionStateUpdatedTime) : '—'}</dd>
      </div>
      <div>
        <dt>Twin version</dt>
        <dd>{twin?.version ?? '—'}</dd>
      </div>
      <div>
        <dt>Twin etag</dt>
        <dd class="mono">{twin?.etag ?? '—'}</dd>
      </div>
      <div>
        <dt>Generation</dt>
        <dd class="mono">{identity?.generationId ?? '—'}</dd>
      </div>
      {children}
    </dl>
  );
}
