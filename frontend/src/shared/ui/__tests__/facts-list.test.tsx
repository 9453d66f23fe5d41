import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FactsList, MissingFact } from '../facts-list';

describe('FactsList', () => {
  it('renders a description list: each value follows its term', () => {
    const { container } = render(
      <FactsList
        facts={[
          { term: 'IP', value: '192.0.2.10', mono: true },
          { term: 'Release', value: '2026.06' },
        ]}
      />,
    );
    const list = container.querySelector('dl');
    expect(list).not.toBeNull();
    const terms = within(list as HTMLElement).getAllByRole('term');
    const values = within(list as HTMLElement).getAllByRole('definition');
    expect(terms.map((t) => t.textContent)).toEqual(['IP', 'Release']);
    expect(values.map((v) => v.textContent)).toEqual(['192.0.2.10', '2026.06']);
    expect(terms[0]?.nextElementSibling).toBe(values[0]);
  });

  it('skips facts that do not apply, and renders nothing when none do', () => {
    const node: string | null = null;
    const { container, rerender } = render(
      <FactsList facts={[{ term: 'Release', value: '2026.06' }, node ? { term: 'Node', value: node } : null, false]} />,
    );
    expect(screen.queryByText('Node')).not.toBeInTheDocument();
    expect(screen.getAllByRole('term')).toHaveLength(1);

    rerender(<FactsList facts={[null, false, undefined]} />);
    expect(container.querySelector('dl')).toBeNull();
  });

  it('puts a test id on the value when asked, and says a missing value in words', () => {
    render(
      <FactsList
        layout="stack"
        facts={[
          { term: 'Changes waiting', value: 'None', testId: 'pending' },
          { term: 'IP', value: <MissingFact>not known yet</MissingFact> },
        ]}
      />,
    );
    expect(screen.getByTestId('pending')).toHaveTextContent('None');
    expect(screen.getByText('not known yet')).toBeInTheDocument();
  });
});
