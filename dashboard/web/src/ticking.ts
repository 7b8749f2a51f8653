import { useEffect, useState } from 'preact/hooks';

/** Renders the component again every 5 s, so that its relative times ("12 s ago", format.ts) keep counting without a fetch. */
export function useTicking(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 5000);
    return () => clearInterval(timer);
  }, []);
}
