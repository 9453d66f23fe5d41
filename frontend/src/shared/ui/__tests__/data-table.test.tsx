import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DataTable, type Column } from '../data-table';

type Thing = { id: number; name: string; size: number };
const columns: Column[] = [{ header: 'Name' }, { header: 'Size', numeric: true }, { header: 'Actions', hidden: true }];
const things: Thing[] = [
  { id: 1, name: 'alpha', size: 3 },
  { id: 2, name: 'beta', size: 12 },
];

function renderRow(thing: Thing) {
  return (
    <tr>
      <th scope="row">{thing.name}</th>
      <td>{thing.size}</td>
      <td>
        <button type="button">Remove {thing.name}</button>
      </td>
    </tr>
  );
}

describe('DataTable', () => {
  it('is a table named by its caption, with column headers and a row per item', () => {
    render(<DataTable caption="Things on this host" columns={columns} rows={things} rowKey={(t) => t.id} renderRow={renderRow} />);

    const table = screen.getByRole('table', { name: 'Things on this host' });
    expect(within(table).getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['Name', 'Size', 'Actions']);
    expect(within(table).getByRole('rowheader', { name: 'beta' })).toBeInTheDocument();
    expect(within(table).getAllByRole('row')).toHaveLength(3);
  });

  it('keeps a hidden header readable by screen readers only', () => {
    render(<DataTable columns={columns} rows={things} rowKey={(t) => t.id} renderRow={renderRow} />);
    const actions = screen.getByRole('columnheader', { name: 'Actions' });
    expect(within(actions).getByText('Actions')).toHaveClass('visually-hidden');
    expect(screen.getByRole('columnheader', { name: 'Name' })).toHaveAttribute('scope', 'col');
  });

  it('shows the empty state instead of an empty table', () => {
    render(
      <DataTable columns={columns} rows={[]} rowKey={(t: Thing) => t.id} renderRow={renderRow} empty={<p>Nothing here yet.</p>} />,
    );
    expect(screen.queryByRole('table')).not.toBeInTheDocument();
    expect(screen.getByText('Nothing here yet.')).toBeInTheDocument();
  });

  it('without an empty state, shows the headers alone; busy marks the table as loading', () => {
    render(<DataTable columns={columns} rows={[]} rowKey={(t: Thing) => t.id} renderRow={renderRow} busy card />);
    const table = screen.getByRole('table');
    expect(within(table).getAllByRole('row')).toHaveLength(1);
    expect(table).toHaveAttribute('aria-busy', 'true');
  });

  it('puts footer rows (totals) after the body rows, in a footer row group', () => {
    render(
      <DataTable
        caption="Things"
        columns={columns}
        rows={things}
        rowKey={(t) => t.id}
        renderRow={renderRow}
        footer={
          <tr>
            <th scope="row">Total</th>
            <td>15</td>
            <td />
          </tr>
        }
      />,
    );
    const table = screen.getByRole('table', { name: 'Things' });
    const groups = within(table).getAllByRole('rowgroup');
    expect(groups.map((group) => group.tagName)).toEqual(['THEAD', 'TBODY', 'TFOOT']);
    expect(within(groups[2] as HTMLElement).getByRole('rowheader', { name: 'Total' })).toBeInTheDocument();
    expect(within(table).getAllByRole('row').at(-1)).toHaveTextContent('Total15');
  });
});
