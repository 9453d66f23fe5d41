import { fileURLToPath, URL } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The backend (ASP.NET, port 5080 in development) serves the built SPA from its wwwroot and
// falls back to index.html for every non-API path.
const backend = 'http://127.0.0.1:5080';
const outDir = fileURLToPath(new URL('../backend/Ctrlable.Provisioner/wwwroot', import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    outDir,
    emptyOutDir: true,
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': backend,
      '/healthz': backend,
      '/swagger': backend,
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/testing/setup-tests.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // One module graph and one jsdom per worker instead of per test file: a fresh jsdom and React for each of the
    // ~50 files cost 150 CPU-seconds of the 2-core CI, the tests themselves 25. Each test cleans up after itself
    // (setup-tests.ts: cleanup, restored mocks and globals), and the suite passes in shuffled order
    // (`npx vitest run --sequence.shuffle`); a file that mocks a module loads its subject after the mock.
    isolate: false,
    // Beside the .NET build on two cores a test can take seconds; a limit is for hangs, not for slowness.
    testTimeout: 20_000,
    unstubGlobals: true,
  },
});
