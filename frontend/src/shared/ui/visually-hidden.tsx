import type { ReactNode } from 'react';

/** Text for screen readers only (class defined in styles/global.css). */
export function VisuallyHidden({ children }: { children: ReactNode }) {
  return <span className="visually-hidden">{children}</span>;
}
