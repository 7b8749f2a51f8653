/**
 * Whether a failure was the hub saying no on purpose (a throttle or the daily quota) rather than a
 * fault of the fleet or the network, read from what both engines surface: the SDK's
 * ThrottlingError / QuotaExceededError, a twin answer's status, a CONNACK refusal's text. A load
 * test against a throttled tier (`iothub-emulator start --tier S1`, or a real S1 hub) then shows
 * where the hub pushed back.
 */
export type HubRefusal = 'throttled' | 'quota';

export function hubRefusal(error: unknown): HubRefusal | undefined {
  const name = error instanceof Error ? error.name : '';
  const text = error instanceof Error ? error.message : String(error);
  if (name === 'QuotaExceededError' || /IotHubQuotaExceeded|403002|failed with 403\b/.test(text)) return 'quota';
  if (name === 'ThrottlingError' || /Throttl|429001|failed with 429\b|Server unavailable/i.test(text)) return 'throttled';
  return undefined;
}
