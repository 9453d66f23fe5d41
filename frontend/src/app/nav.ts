import type { ComponentType, SVGProps } from 'react';
import type { Role } from '@/shared/api';
import {
  BracesIcon,
  ClipboardListIcon,
  DashboardIcon,
  HomeIcon,
  PackageIcon,
  SettingsIcon,
  UsersIcon,
} from '@/shared/ui/icons';
import { paths } from './paths';

export type NavItem = {
  label: string;
  to: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
  /** Shown only to this role and above (the API enforces it anyway). */
  role?: Role;
};

// The left navigation: one line per page. Only pages that exist are listed.
export const navItems: readonly NavItem[] = [
  { label: 'Dashboard', to: paths.home.getHref(), icon: DashboardIcon },
  { label: 'Projects', to: paths.projects.getHref(), icon: HomeIcon },
  { label: 'Releases', to: paths.releases.getHref(), icon: PackageIcon },
  { label: 'Settings', to: paths.settings.getHref(), icon: SettingsIcon },
  { label: 'Users', to: paths.users.getHref(), icon: UsersIcon, role: 'admin' },
  { label: 'API tokens', to: paths.tokens.getHref(), icon: BracesIcon, role: 'admin' },
  { label: 'Audit log', to: paths.audit.getHref(), icon: ClipboardListIcon, role: 'admin' },
];

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function visibleNavItems(role: Role): NavItem[] {
  return navItems.filter((item) => !item.role || rank[role] >= rank[item.role]);
}
