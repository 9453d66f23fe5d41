import { Fragment, type Key, type ReactNode } from 'react';
import table from './table.module.css';

export type Column = {
  header: string;
  /** Read by screen readers only (an "Actions" column of buttons). */
  hidden?: boolean;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
};

/**
 * A data table: one header row from `columns`, a body row per item from `renderRow` (which
 * returns the `<tr>`s of one item), and `footer` rows (totals) when given. With no rows it shows
 * `empty` instead, when given. `card` puts it in a scrolling card, `plain` drops its own frame (a
 * table inside a panel); `caption` names the table for screen readers.
 */
export function DataTable<T>({
  columns,
  rows,
  rowKey,
  renderRow,
  caption,
  empty,
  footer,
  card = false,
  plain = false,
  busy = false,
  className,
}: {
  columns: readonly Column[];
  rows: readonly T[];
  rowKey: (row: T, index: number) => Key;
  renderRow: (row: T, index: number) => ReactNode;
  caption?: string;
  empty?: ReactNode;
  footer?: ReactNode;
  card?: boolean;
  plain?: boolean;
  busy?: boolean;
  className?: string;
}) {
  if (rows.length === 0 && empty !== undefined) return <>{empty}</>;
  const classes = [table.table, plain ? table.plain : null, className].filter(Boolean).join(' ');
  const element = (
    <table className={classes} aria-busy={busy || undefined}>
      {caption ? <caption className="visually-hidden">{caption}</caption> : null}
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.header} scope="col" className={column.numeric ? table.numeric : undefined}>
              {column.hidden ? <span className="visually-hidden">{column.header}</span> : column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) => (
          <Fragment key={rowKey(row, index)}>{renderRow(row, index)}</Fragment>
        ))}
      </tbody>
      {footer ? <tfoot>{footer}</tfoot> : null}
    </table>
  );
  return card ? <div className={table.card}>{element}</div> : element;
}
