#!/usr/bin/env node
// Fails when src/shared/api/schema.d.ts is not what openapi-typescript makes of openapi.json,
// i.e. when someone changed the API document (or the generated file) without `npm run gen:api`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const spec = join(root, 'openapi.json');
const committed = join(root, 'src/shared/api/schema.d.ts');
// The package's exports map hides bin/, so locate it from the package's main entry (dist/…).
const require = createRequire(import.meta.url);
const cli = join(dirname(dirname(require.resolve('openapi-typescript'))), 'bin', 'cli.js');

/** @param {string} text */
const normalize = (text) => text.replace(/\r\n/g, '\n');
/** @param {string} path */
const shown = (path) => relative(process.cwd(), path) || path;

if (!existsSync(committed)) {
  console.error(`check:api: ${shown(committed)} is missing. Run \`npm run gen:api\` and commit it.`);
  process.exit(1);
}

const tempDir = mkdtempSync(join(tmpdir(), 'check-api-'));
try {
  const fresh = join(tempDir, 'schema.d.ts');
  // Same arguments as `npm run gen:api`, run from the same folder so the output is identical.
  const run = spawnSync(process.execPath, [cli, 'openapi.json', '-o', fresh], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    console.error(`check:api: openapi-typescript failed on ${shown(spec)}:\n${run.stderr || run.stdout}`);
    process.exit(1);
  }

  const expected = normalize(readFileSync(fresh, 'utf8')).split('\n');
  const actual = normalize(readFileSync(committed, 'utf8')).split('\n');
  const firstDiff = expected.findIndex((/** @type {string} */ line, /** @type {number} */ index) => line !== actual[index]);
  const differs = firstDiff !== -1 || expected.length !== actual.length;

  if (differs) {
    const at = firstDiff === -1 ? Math.min(expected.length, actual.length) : firstDiff;
    console.error(
      [
        `check:api: ${shown(committed)} is stale: it does not match ${shown(spec)}.`,
        `First difference at line ${at + 1}:`,
        `  committed: ${actual[at] ?? '(end of file)'}`,
        `  expected:  ${expected[at] ?? '(end of file)'}`,
        'Run `npm run gen:api` in frontend/ and commit the result.',
      ].join('\n'),
    );
    process.exit(1);
  }
  console.log(`check:api: ${shown(committed)} is up to date with ${shown(spec)}.`);
} finally {
  rmSync(tempDir, { recursive: true, force: true });
}
