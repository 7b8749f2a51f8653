import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';

export function Card(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} id={props.id} aria-label={typeof props.title === 'string' ? props.title : undefined}>
      {(props.title || props.actions) && (
        <header class="card-head">
          <h2>{props.title}</h2>
          <div class="card-actions">{props.actions}</div>
        </header>
      )}
      <div class="card-body">{props.children}</div>
    </section>
  );
}

export function ConnectionBadge({ state }: { state: string }) {
  const on = state === 'Connected';
  return (
    <span class={`badge ${on ? 'badge-on' : 'badge-off'}`} data-state={state}>
      <span class="dot" aria-hidden="true" />
      {state}
    </span>
  );
}

const statusTone: Record<string, string> = {
  enabled: 'ok',
  disabled: 'muted',
  completed: 'ok',
  running: 'info',
  queued: 'muted',
  scheduled: 'muted',
  failed: 'bad',
  cancelled: 'warn',
  canceled: 'warn',
  pending: 'muted',
  // what became of a cloud-to-device message
  sent: 'info',
  rejected: 'bad',
  abandoned: 'warn',
  expired: 'warn',
  deliveryCountExceeded: 'bad',
  purged: 'muted',
};

export function StatusPill({ status }: { status: string }) {
  return (
    <span class={`pill pill-${statusTone[status] ?? 'muted'}`} data-status={status}>
      {status}
    </span>
  );
}

/** The hub's refusal, with its status and error code, where the action was. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div class="error" role="alert">
      {e && (
        <strong class="error-code">
          {e.status} {e.errorCode}
          {e.code !== undefined && e.code !== e.status && ` (${e.code})`}
        </strong>
      )}
      <span class="error-message">{error instanceof Error ? error.message : String(error)}</span>
    </div>
  );
}

/** Copies `text`, or what `load` fetches at the moment of the click (a device's connection string). */
export function CopyButton({
  text,
  load,
  label = 'Copy',
  title,
  small = true,
}: {
  text?: string;
  load?: () => Promise<string | undefined>;
  label?: string;
  title?: string;
  small?: boolean;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class={small ? 'btn btn-small' : 'btn'}
      disabled={!text && !load}
      title={title}
      onClick={async () => {
        const value = text ?? (await load?.());
        if (!value) return;
        try {
          await navigator.clipboard.writeText(value);
        } catch {
          prompt('Copy:', value);
        }
        setCopied(true);
        setTimeout(() => setCopied(false), 1200);
      }}
    >
      <span class="btn-fixed">{copied ? 'Copied ✓' : label}</span>
    </button>
  );
}

export function JsonBlock({ value, class: cls }: { value: unknown; class?: string }) {
  return <pre class={`json ${cls ?? ''}`}>{JSON.stringify(value, null, 2)}</pre>;
}

export function Stat({ label, value, hint }: { label: string; value: ComponentChildren; hint?: ComponentChildren }) {
  return (
    <section class="stat" aria-label={label}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {hint !== undefined && <div class="stat-hint">{hint}</div>}
    </section>
  );
}

export function ProgressBar({ done, failed, total }: { done: number; failed: number; total: number }) {
  const pct = (n: number): string => `${total === 0 ? 0 : (n / total) * 100}%`;
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done + failed}
      aria-label={`${done + failed} of ${total} devices done`}
    >
      <div class="progress-ok" style={{ width: pct(done) }} />
      <div class="progress-bad" style={{ width: pct(failed) }} />
    </div>
  );
}
