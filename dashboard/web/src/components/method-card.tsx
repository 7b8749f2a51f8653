import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, ErrorBox, JsonBlock } from './ui';

interface MethodAnswer {
  status: number;
  payload: unknown;
  latencyMs: number;
}

/** A direct-method form for a device or a module (`base` as for TwinCard), with the answer and its latency. */
export function MethodCard({ base, defaultName = 'lockDoor' }: { base: string; defaultName?: string }) {
  const [name, setName] = useState(defaultName);
  const [payload, setPayload] = useState('{}');
  const [responseTimeout, setResponseTimeout] = useState('30');
  const [connectTimeout, setConnectTimeout] = useState('0');
  const [answer, setAnswer] = useState<MethodAnswer>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const invoke = async (): Promise<void> => {
    setError(undefined);
    setAnswer(undefined);
    let body: unknown;
    try {
      body = payload.trim() === '' ? null : JSON.parse(payload);
    } catch (e) {
      setError(new Error(`The payload is not valid JSON: ${(e as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      setAnswer(
        await api<MethodAnswer>('POST', `${base}/methods`, {
          methodName: name,
          payload: body,
          responseTimeoutInSeconds: Number(responseTimeout),
          connectTimeoutInSeconds: Number(connectTimeout),
        }),
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Direct method">
      <form
        class="method-form"
        onSubmit={(e) => {
          e.preventDefault();
          void invoke();
        }}
      >
        <div class="fields">
          <label class="field grow">
            Method name
            <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
          </label>
          <label class="field narrow">
            Response timeout (s)
            <input type="number" min="5" max="300" value={responseTimeout} onInput={(e) => setResponseTimeout((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field narrow">
            Connect timeout (s)
            <input type="number" min="0" max="300" value={connectTimeout} onInput={(e) => setConnectTimeout((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <label class="field">
          Payload (JSON)
          <textarea class="code" rows={3} spellcheck={false} value={payload} onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)} />
        </label>
        <div class="row">
          <button class="btn btn-primary" type="submit" disabled={busy}>
            <span class="btn-fixed">{busy ? 'Waiting…' : 'Invoke method'}</span>
          </button>
          <span class="spacer" />
          {answer && (
            <span class="small" data-testid="method-status">
              status <strong>{answer.status}</strong> · {answer.latencyMs.toFixed(1)} ms
            </span>
          )}
        </div>
        <ErrorBox error={error} />
        <div class="method-answer" aria-live="polite">
          {answer ? <JsonBlock value={answer.payload} class="method-payload" /> : <p class="muted small">The device's answer appears here.</p>}
        </div>
      </form>
    </Card>
  );
}
