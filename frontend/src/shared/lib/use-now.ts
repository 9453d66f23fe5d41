import { useEffect, useState } from 'react';

/**
 * The current time, re-read every `intervalMs` (default one second), for texts such as
 * "updated 4 s ago". Only the component that shows the text re-renders.
 */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}
