import { useEffect, useRef, useState } from 'react';
import type { InstanceProgress } from '@/shared/api';
import { applyProgress, type ProgressMap } from '../lib/live-instances';

/**
 * live: the event stream is open. connecting: not yet. polling: the stream failed (or the browser
 * has no EventSource), so the caller asks the API every few seconds instead.
 */
export type LiveMode = 'connecting' | 'live' | 'polling';

/** Quiet time after the last change of state before the caller is asked to re-read the API. */
const STALE_DEBOUNCE_MS = 300;

function parse(data: unknown): unknown {
  try {
    return typeof data === 'string' ? (JSON.parse(data) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function isProgress(value: unknown): value is InstanceProgress {
  return typeof value === 'object' && value !== null && 'instanceId' in value && 'state' in value && 'at' in value;
}

/**
 * Subscribes to a Server-Sent Events stream of instance progress (GET /api/deploys/{id}/events or
 * /api/projects/{id}/events; same origin, the session cookie goes along): first a `snapshot`
 * event with every instance, so a reloaded page has the whole picture, then a `progress` event per
 * step. On an error the stream is closed and `mode` turns to `polling`.
 *
 * `onStale` is called (debounced) when an instance changes state or a new one appears: fields the
 * events do not carry (VMID, IP, kind) are then re-read from the API.
 */
export function useInstanceEvents(url: string | null, onStale?: () => void): { progress: ProgressMap; mode: LiveMode } {
  const [progress, setProgress] = useState<ProgressMap>(() => new Map());
  const [mode, setMode] = useState<LiveMode>(() => (typeof EventSource === 'function' ? 'connecting' : 'polling'));
  const onStaleRef = useRef(onStale);
  onStaleRef.current = onStale;

  useEffect(() => {
    if (!url) return undefined;
    if (typeof EventSource !== 'function') {
      setMode('polling');
      return undefined;
    }
    setMode('connecting');
    setProgress(new Map());
    const source = new EventSource(url);
    const states = new Map<number, string>();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const apply = (items: InstanceProgress[]) => {
      let changed = false;
      for (const item of items) {
        if (states.get(item.instanceId) !== item.state) changed = true;
        states.set(item.instanceId, item.state);
      }
      setProgress((current) => applyProgress(current, items));
      if (changed && onStaleRef.current) {
        clearTimeout(timer);
        timer = setTimeout(() => onStaleRef.current?.(), STALE_DEBOUNCE_MS);
      }
    };

    source.addEventListener('snapshot', (event) => {
      const data = parse((event as MessageEvent).data);
      const items = Array.isArray(data) ? data.filter(isProgress) : [];
      // The snapshot is the whole truth at this moment: record it without asking the API again.
      for (const item of items) states.set(item.instanceId, item.state);
      setProgress((current) => applyProgress(current, items));
      setMode('live');
    });
    source.addEventListener('progress', (event) => {
      const data = parse((event as MessageEvent).data);
      if (isProgress(data)) apply([data]);
    });
    source.onerror = () => {
      source.close();
      setMode('polling');
    };

    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [url]);

  return { progress, mode };
}
