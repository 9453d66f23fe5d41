import { vi } from 'vitest';

/**
 * A stand-in for the browser's EventSource (jsdom has none): tests push server-sent events with
 * `emit(type, data)` and see what the code opened and closed.
 */
export class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readyState = FakeEventSource.OPEN;

  constructor(url: string | URL) {
    super();
    this.url = String(url);
    FakeEventSource.instances.push(this);
  }

  emit(type: string, data: unknown) {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
  }

  close() {
    this.readyState = FakeEventSource.CLOSED;
  }

  /** The last stream opened for `path`. */
  static for(path: string): FakeEventSource {
    const found = [...FakeEventSource.instances].reverse().find((source) => new URL(source.url, 'http://localhost').pathname === path);
    if (!found) throw new Error(`no EventSource opened for ${path}`);
    return found;
  }
}

/** Installs FakeEventSource as the global EventSource for one test. */
export function stubEventSource() {
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  return FakeEventSource;
}
