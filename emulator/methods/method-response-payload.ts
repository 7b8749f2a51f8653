import JSON5 from 'json5';

/**
 * The body of a device's method response, as the hub reads it (docs/protocol.md §"Device method
 * responses"). Pure: the MQTT face and the AMQP face hand it the same bytes.
 *
 * IoT Hub reads the answer with Newtonsoft.Json's default (lenient) reader, so the .NET device
 * SDK's tutorial answer `'Door was locked.'` is a string, not an error. JSON5 accepts the same
 * dialect (single-quoted strings and names, unquoted names, trailing commas, comments, NaN and
 * Infinity). The caller gets strict JSON back, so every service SDK can read it.
 */
export type MethodResponsePayload = { ok: true; payload: unknown } | { ok: false; reason: string };

export function readMethodResponsePayload(body: Buffer): MethodResponsePayload {
  if (body.length === 0) return { ok: true, payload: null };
  const text = body.toString('utf8');
  try {
    // Strict JSON is what nearly every device sends; JSON.parse reads it an order of magnitude
    // faster than JSON5 and gives the same value.
    return { ok: true, payload: JSON.parse(text) };
  } catch {
    // fall through to the lenient dialect
  }
  try {
    return { ok: true, payload: toStrictJsonValue(JSON5.parse(text)) };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/**
 * NaN and ±Infinity have no strict JSON form; JSON.stringify would turn them into null and lose
 * them. Newtonsoft's writer renders them as the strings "NaN", "Infinity" and "-Infinity" by
 * default (FloatFormatHandling.String), and so does the emulator.
 */
function toStrictJsonValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toStrictJsonValue(value[i]);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = toStrictJsonValue(record[key]);
  }
  return value;
}
