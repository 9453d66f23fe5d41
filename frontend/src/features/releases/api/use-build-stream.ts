import { useEffect, useRef, useState } from 'react';
import type { BuildStreamMessage, BuildSummary } from '@/shared/api';

export type BuildStream = {
  build: BuildSummary | null;
  lines: string[];
  /** The server said "end": the build is over and the stream closed. */
  ended: boolean;
  /** The connection is down and the browser is reconnecting. */
  reconnecting: boolean;
};

const initial: BuildStream = { build: null, lines: [], ended: false, reconnecting: false };

/**
 * Follows GET /api/builds/{id}/events (server-sent events, same origin, so the session cookie goes
 * along): "build" replaces the summary, "log" appends lines (a reconnect starts again from line 0),
 * "end" gives the final summary and closes the stream.
 */
export function useBuildStream(id: number, { onEnd }: { onEnd?: (build: BuildSummary) => void } = {}): BuildStream {
  const [stream, setStream] = useState<BuildStream>(initial);
  // The latest callback, without reconnecting when the caller passes a new one.
  const onEndRef = useRef(onEnd);
  useEffect(() => {
    onEndRef.current = onEnd;
  });

  useEffect(() => {
    setStream(initial);
    const source = new EventSource(`/api/builds/${id}/events`);
    const read = (event: MessageEvent<string>): BuildStreamMessage => JSON.parse(event.data) as BuildStreamMessage;

    source.addEventListener('build', (event) => {
      const { build } = read(event);
      if (build) setStream((s) => ({ ...s, build, reconnecting: false }));
    });
    source.addEventListener('log', (event) => {
      const { logFrom, logLines } = read(event);
      if (!logLines) return;
      setStream((s) => {
        const from = logFrom ?? s.lines.length;
        return { ...s, lines: [...s.lines.slice(0, from), ...logLines], reconnecting: false };
      });
    });
    source.addEventListener('end', (event) => {
      const { build } = read(event);
      source.close();
      setStream((s) => ({ ...s, build: build ?? s.build, ended: true, reconnecting: false }));
      if (build) onEndRef.current?.(build);
    });
    source.addEventListener('error', () => {
      setStream((s) => (s.ended ? s : { ...s, reconnecting: source.readyState !== EventSource.CLOSED }));
    });
    return () => source.close();
  }, [id]);

  return stream;
}
