// @vitest-environment node
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findViolations, importSpecifiers, readSources } from './import-rules';

const srcDir = fileURLToPath(new URL('..', import.meta.url));

describe('import direction (shared → features → app)', () => {
  it('holds for every source file', () => {
    // This file's own examples of wrong imports are data, not imports.
    const files = readSources(srcDir).filter((file) => file.path !== 'testing/import-rules.test.ts');
    expect(files.some((file) => file.path.startsWith('features/'))).toBe(true);
    expect(files.some((file) => file.path.startsWith('app/'))).toBe(true);

    const violations = findViolations(files).map((v) => `${v.file} imports '${v.imports}': ${v.rule}`);
    expect(violations).toEqual([]);
  });

  it('finds the specifiers of every import form', () => {
    const text = [
      "import a from './a';",
      "import type {\n  B,\n  C,\n} from '@/shared/b';",
      "export { d } from '../d';",
      "import './side-effect.css';",
      "const e = await import('@/features/e');",
      "vi.mock('@/features/f/api');",
      "import react from 'react';",
      ".card {\n  composes: card toned from '@/shared/ui/surface.module.css';\n}",
      "@import './tokens.css';",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(
      [
        './a',
        './side-effect.css',
        '../d',
        '@/features/e',
        '@/features/f/api',
        '@/shared/b',
        'react',
        '@/shared/ui/surface.module.css',
        './tokens.css',
      ].sort(),
    );
  });

  it('reports each kind of wrong direction', () => {
    const violations = findViolations([
      { path: 'features/releases/components/list.tsx', text: "import { x } from '@/features/projects';" },
      { path: 'features/releases/api/get.ts', text: "import { y } from '../../projects/api/get';" },
      { path: 'features/releases/components/z.tsx', text: "import { paths } from '@/app/paths';" },
      { path: 'shared/ui/button.tsx', text: "import { y } from '@/features/releases';" },
      { path: 'shared/lib/q.ts', text: "import { App } from '../../app';" },
      { path: 'testing/test-utils.tsx', text: "import { routes } from '@/app/router';" },
      { path: 'features/releases/components/list.tsx', text: "import { mockFetch } from '@/testing/test-utils';" },
      { path: 'shared/ui/card.module.css', text: ".a {\n  composes: b from '@/features/deploy/components/deploy.module.css';\n}" },
      { path: 'features/releases/components/r.module.css', text: ".a { composes: card from '../../projects/components/projects.module.css'; }" },
      // allowed:
      { path: 'features/releases/components/ok.tsx', text: "import { a } from '../api/get';\nimport { b } from '@/shared/ui/button';\nimport c from 'react';" },
      { path: 'app/router.tsx', text: "import { ReleasesList } from '@/features/releases';" },
      { path: 'features/releases/components/__tests__/list.test.tsx', text: "import { mockFetch } from '@/testing/test-utils';" },
      { path: 'features/releases/components/ok.module.css', text: ".a { composes: card from '@/shared/ui/surface.module.css'; }" },
    ]);

    expect(violations.map((v) => [v.file, v.imports])).toEqual([
      ['features/releases/components/list.tsx', '@/features/projects'],
      ['features/releases/api/get.ts', '../../projects/api/get'],
      ['features/releases/components/z.tsx', '@/app/paths'],
      ['shared/ui/button.tsx', '@/features/releases'],
      ['shared/lib/q.ts', '../../app'],
      ['testing/test-utils.tsx', '@/app/router'],
      ['features/releases/components/list.tsx', '@/testing/test-utils'],
      ['shared/ui/card.module.css', '@/features/deploy/components/deploy.module.css'],
      ['features/releases/components/r.module.css', '../../projects/components/projects.module.css'],
    ]);
  });
});
