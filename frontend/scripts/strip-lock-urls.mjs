#!/usr/bin/env node
// package-lock.json must not record download addresses (the committed tree names no package
// registry host). frontend/.npmrc sets `omit-lockfile-registry-resolved=true`, so npm writes no
// `resolved` fields; this script is the safety net for a lockfile written without it:
//   node scripts/strip-lock-urls.mjs          removes every `resolved` (keeps `integrity`)
//   node scripts/strip-lock-urls.mjs --check  fails if any `resolved` is present
// `npm ci` installs from such a lockfile through the configured registry, verified by integrity.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lockPath = join(dirname(dirname(fileURLToPath(import.meta.url))), 'package-lock.json');
const check = process.argv.includes('--check');

const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const withUrl = Object.entries(lock.packages ?? {}).filter(
  ([, entry]) => entry && typeof entry === 'object' && 'resolved' in entry,
);

if (check) {
  if (withUrl.length > 0) {
    console.error(
      `check:lock: package-lock.json records download addresses for ${withUrl.length} package(s), ` +
        `e.g. ${withUrl[0][0]}. Run \`npm run strip:lock\` and commit the result.`,
    );
    process.exit(1);
  }
  console.log('check:lock: package-lock.json records no download addresses.');
} else {
  for (const [, entry] of withUrl) delete entry.resolved;
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`strip:lock: removed ${withUrl.length} \`resolved\` field(s) from package-lock.json.`);
}
