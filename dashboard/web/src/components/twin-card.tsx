import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Twin } from '../api';
import { withoutMetadata } from '../format';
import { Card, ErrorBox, JsonBlock } from './ui';

/** What the editor starts from: the writable part of the twin, as a patch would send it. */
function editable(twin: Twin): string {
  const desired = withoutMetadata(twin.properties.desired) as Record<string, unknown>;
  delete desired.$version;
  return JSON.stringify({ tags: twin.tags ?? {}, properties: { desired } }, null, 2);
}

/**
 * A device's or module's twin and an editor for its tags and desired properties: `base` is the
 * API path of the identity (`/devices/{id}` or `/devices/{id}/modules/{mid}`), its etag goes as
 * If-Match so an edit of a twin that changed meanwhile is refused (412) as the hub refuses it.
 */
export function TwinCard({ base, title, twin, onSaved }: { base: string; title: string; twin?: Twin; onSaved: () => Promise<unknown> }) {
  const [text, setText] = useState('');
  const [dirty, setDirtyState] = useState(false);
  // What the effect below reads when it runs: effects run after paint, and one left from before an
  // edit began must not overwrite what the user has typed since (its `dirty` is from its render).
  const dirtyNow = useRef(false);
  const setDirty = (value: boolean): void => {
    dirtyNow.current = value;
    setDirtyState(value);
  };
  const [metadata, setMetadata] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [etag, setEtag] = useState<string>();
  const [latest, setLatest] = useState<Twin>();
  // A change from elsewhere refreshes the editor unless the user is in the middle of an edit;
  // `dirty` is a dependency so that a save or a discard (dirty back to false) refreshes it too.
  useEffect(() => {
    const current = newer(twin, latest);
    if (current && !dirtyNow.current) {
      setText(editable(current));
      setEtag(current.etag);
    }
  }, [twin, latest, dirty]);

  const send = async (): Promise<void> => {
    setError(undefined);
    setSaved(undefined);
    let patch: unknown;
    try {
      patch = JSON.parse(text);
    } catch (e) {
      setError(new Error(`The patch is not valid JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const updated = await api<Twin>('PATCH', `${base}/twin`, { patch, etag });
      // The answer is the twin as saved: the editor goes on from it, not from the older twin the
      // page holds until the refetch below lands (which may be after the user starts typing again).
      setLatest(updated);
      setSaved(`Saved: twin version ${updated.version}, desired $version ${String(updated.properties.desired.$version)}`);
      setDirty(false);
      await onSaved();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card
      title={title}
      actions={
        <label class="check">
          <input type="checkbox" checked={metadata} onChange={(e) => setMetadata((e.target as HTMLInputElement).checked)} /> $metadata
        </label>
      }
    >
      <div class="twin-view">
        <JsonBlock
          value={twin ? (metadata ? { tags: twin.tags, properties: twin.properties } : withoutMetadata({ tags: twin.tags, properties: twin.properties })) : {}}
          class="twin-json"
        />
      </div>
      <form
        class="twin-editor"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label for="twin-patch" class="label">
          Patch tags and desired properties <span class="muted small">(merge patch; null removes a property; sent with If-Match {etag ?? ''})</span>
        </label>
        <textarea
          id="twin-patch"
          class="code"
          spellcheck={false}
          rows={10}
          value={text}
          onInput={(e) => {
            setText((e.target as HTMLTextAreaElement).value);
            setDirty(true);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <div class="row">
          <button class="btn btn-primary" type="submit">
            Send patch
          </button>
          <button class="btn" type="button" disabled={!dirty} onClick={() => setDirty(false)}>
            Discard changes
          </button>
          <span class="muted small">Ctrl+Enter sends</span>
          <span class="spacer" />
          <span class="ok small" role="status">
            {saved ?? ''}
          </span>
        </div>
        <ErrorBox error={error} />
      </form>
    </Card>
  );
}

/** The later of the page's twin and the one a save answered with (by twin version). */
function newer(twin: Twin | undefined, saved: Twin | undefined): Twin | undefined {
  if (!twin || !saved) return twin ?? saved;
  return saved.version > twin.version ? saved : twin;
}
