import { NavLink, Outlet, useNavigate } from 'react-router';
import { UserMenu, useCurrentUser } from '@/features/auth';
import { visibleNavItems } from '../nav';
import { paths } from '../paths';
import styles from './app-shell.module.css';

export const PRODUCT_NAME = 'Ctrlable Provisioner';

export function AppShell() {
  const me = useCurrentUser();
  const navigate = useNavigate();
  const items = visibleNavItems(me.data?.role ?? 'viewer');
  return (
    <div className={styles.shell}>
      <a className={styles.skipLink} href="#main">
        Skip to content
      </a>
      <header className={styles.header}>
        <span className={styles.brand}>
          <span className={styles.logo} aria-hidden="true">
            C
          </span>
          {PRODUCT_NAME}
        </span>
        {me.data ? (
          <div className={styles.user}>
            <UserMenu user={me.data} onSignedOut={() => void navigate(paths.signIn.getHref(), { replace: true })} />
          </div>
        ) : null}
      </header>
      <nav className={styles.nav} aria-label="Main">
        <ul>
          {items.map(({ label, to, icon: Icon }) => (
            <li key={to}>
              <NavLink
                to={to}
                className={({ isActive }) => (isActive ? `${styles.navLink} ${styles.active}` : styles.navLink)}
              >
                <Icon width={18} height={18} />
                {label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className={styles.main} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
