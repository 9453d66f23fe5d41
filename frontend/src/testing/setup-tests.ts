import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// findBy*/waitFor wait on a condition: a generous limit costs a passing test nothing and keeps a loaded CI machine
// (the suite runs beside the .NET build) from failing a test that was only slow.
configure({ asyncUtilTimeout: 5_000 });

// Vitest runs without globals, so Testing Library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  // The test files share one jsdom (isolate: false in vite.config.ts): an address or stored value a test left goes too.
  // (Files that run in Node have no window.)
  if (typeof window === 'undefined') return;
  window.history.replaceState(null, '', '/');
  window.localStorage.clear();
  window.sessionStorage.clear();
});
