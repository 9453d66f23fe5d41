import { Fragment } from 'react';
import { Link } from 'react-router';
import styles from './breadcrumb.module.css';

/** Where this page sits: links up the way, the current page last (not a link). */
export function Breadcrumb({ items }: { items: { label: string; to?: string }[] }) {
  return (
    <nav aria-label="Breadcrumb" className={styles.breadcrumb}>
      <ol>
        {items.map((item, i) => (
          <Fragment key={`${item.label}-${i}`}>
            <li>
              {item.to && i < items.length - 1 ? (
                <Link to={item.to}>{item.label}</Link>
              ) : (
                <span aria-current={i === items.length - 1 ? 'page' : undefined}>{item.label}</span>
              )}
            </li>
          </Fragment>
        ))}
      </ol>
    </nav>
  );
}
