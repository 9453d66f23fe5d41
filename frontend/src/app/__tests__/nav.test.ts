import { describe, expect, it } from 'vitest';
import { navItems, visibleNavItems } from '../nav';

describe('navigation', () => {
  it('gives every sidebar entry its own icon', () => {
    const icons = new Set(navItems.map((item) => item.icon));
    expect(icons.size).toBe(navItems.length);
  });

  it('shows the admin pages to admins only', () => {
    expect(visibleNavItems('operator').map((i) => i.label)).toEqual(['Dashboard', 'Projects', 'Releases', 'Settings']);
    expect(visibleNavItems('admin').map((i) => i.label)).toContain('Audit log');
  });
});
