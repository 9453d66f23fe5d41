// The dependency direction of the SPA (bulletproof-react): shared → features → app.
//   - shared/ imports nothing from features/ or app/;
//   - a feature imports shared/ and itself, never another feature, never app/;
//   - app/ may import anything;
//   - testing/ (test helpers) is like shared/; only test files may import it.
// CSS modules count too: `composes: x from '…'` and `@import` follow the same direction.
// Checked by a test instead of an ESLint rule, so the project needs no linter to enforce it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

export type SourceFile = { path: string; text: string };
export type Violation = { file: string; imports: string; rule: string };

type Layer =
  | { kind: 'app' }
  | { kind: 'feature'; name: string }
  | { kind: 'shared' }
  | { kind: 'testing' }
  | { kind: 'root' };

const SPECIFIER_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g, // import x from '…', export { x } from '…'
  /\bimport\s*['"]([^'"]+)['"]/g, // import '…' (side effects)
  /\b(?:import|vi\.mock)\(\s*['"]([^'"]+)['"]/g, // import('…'), vi.mock('…')
  /\bcomposes\s*:[^;{}]*?\sfrom\s*['"]([^'"]+)['"]/g, // CSS modules: composes: a b from '…'
];

export function importSpecifiers(text: string): string[] {
  const found = new Set<string>();
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      if (match[1]) found.add(match[1]);
    }
  }
  return [...found];
}

/** `path` is relative to src/, with forward slashes. */
export function layerOf(path: string): Layer {
  const [top, second] = path.split('/');
  if (top === 'app') return { kind: 'app' };
  if (top === 'shared') return { kind: 'shared' };
  if (top === 'testing') return { kind: 'testing' };
  if (top === 'features' && second) return { kind: 'feature', name: second };
  return { kind: 'root' };
}

export function isTestFile(path: string): boolean {
  return /\.test\.tsx?$/.test(path);
}

/** Resolves a specifier to a path relative to src/, or undefined for a package import. */
export function resolveSpecifier(importer: string, specifier: string): string | undefined {
  if (specifier.startsWith('@/')) return posix.normalize(specifier.slice(2));
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    return posix.normalize(posix.join(posix.dirname(importer), specifier));
  }
  return undefined;
}

function rule(importer: string, target: string): string | undefined {
  const from = layerOf(importer);
  const to = layerOf(target);
  if (target.startsWith('..')) return 'imports from outside src/';
  if (to.kind === 'testing' && from.kind !== 'testing' && !isTestFile(importer)) {
    return 'only tests may import testing/';
  }
  switch (from.kind) {
    case 'shared':
    case 'testing':
      if (to.kind === 'feature' || to.kind === 'app') return `${from.kind}/ must not import ${to.kind === 'app' ? 'app/' : 'features/'}`;
      return undefined;
    case 'feature':
      if (to.kind === 'app') return 'a feature must not import app/';
      if (to.kind === 'feature' && to.name !== from.name) {
        return `feature "${from.name}" must not import feature "${to.name}" (compose them in app/, or move the shared part to shared/)`;
      }
      return undefined;
    default:
      return undefined;
  }
}

export function findViolations(files: SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    for (const specifier of importSpecifiers(file.text)) {
      const target = resolveSpecifier(file.path, specifier);
      if (target === undefined) continue;
      const broken = rule(file.path, target);
      if (broken) violations.push({ file: file.path, imports: specifier, rule: broken });
    }
  }
  return violations;
}

/** Every .ts/.tsx/.css file under `srcDir`, with paths relative to it. */
export function readSources(srcDir: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(tsx?|css)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.push({ path: relative(srcDir, full).split(sep).join('/'), text: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(srcDir);
  return files;
}
