import { act } from '@testing-library/react';
import { vi } from 'vitest';

type Listener = (event: MessageEvent) => void;

/**
 * A stand-in for the browser's EventSource (jsdom has none): tests push `snapshot` and `progress`
 * events, or an error, and see what the page makes of them.
 */
export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readyState = 0;
  closed = false;
  onerror: ((event: Event) => void) | null = null;
  onopen: ((event: Event) => void) | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(url: string | URL) {
    this.url = String(url);
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: Listener) {
    const set = this.listeners.get(type) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(type, set);
  }

  removeEventListener(type: string, listener: Listener) {
    this.listeners.get(type)?.delete(listener);
  }

  close() {
    this.closed = true;
    this.readyState = 2;
  }

  /** Delivers a named event whose data is `data` as JSON. */
  emit(type: string, data: unknown) {
    if (this.closed) throw new Error(`emit on a closed EventSource (${this.url})`);
    this.readyState = 1;
    const event = new MessageEvent(type, { data: JSON.stringify(data) });
    act(() => {
      for (const listener of this.listeners.get(type) ?? []) listener(event);
    });
  }

  /** The connection failed (as the browser reports it). */
  fail() {
    act(() => {
      this.onerror?.(new Event('error'));
    });
  }

  /** The last stream opened for `path` (by pathname), open or closed. */
  static for(path: string): FakeEventSource {
    return eventSourceFor(path);
  }

  /** The one stream opened to `url` (fails the test when there is none). */
  static at(path: string): FakeEventSource {
    const found = FakeEventSource.instances.filter((source) => source.url.endsWith(path) && !source.closed);
    const last = found[found.length - 1];
    if (!last) throw new Error(`no open EventSource for ${path}; opened: ${FakeEventSource.instances.map((s) => s.url).join(', ')}`);
    return last;
  }
}

/** Replaces the global EventSource for one test (vitest unstubs globals after each test). */
export function installFakeEventSource(): typeof FakeEventSource {
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  return FakeEventSource;
}

/** The last stream opened for `path` (by pathname), open or closed. */
export function eventSourceFor(path: string): FakeEventSource {
  const found = [...FakeEventSource.instances].reverse().find((source) => new URL(source.url, 'http://localhost').pathname === path);
  if (!found) throw new Error(`no EventSource opened for ${path}`);
  return found;
}

/** The same as installFakeEventSource, under the name the release build tests use. */
export const stubEventSource = installFakeEventSource;
