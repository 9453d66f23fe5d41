import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Meter, meterLevel } from '../meter';

describe('Meter', () => {
  it('is an ARIA meter with its value in words', () => {
    render(<Meter label="CPU" fraction={0.123} value="12%" detail="8 CPUs" />);

    const meter = screen.getByRole('meter', { name: 'CPU' });
    expect(meter).toHaveAttribute('aria-valuenow', '12.3');
    expect(meter).toHaveAttribute('aria-valuetext', '12%');
    expect(meter).toHaveTextContent('CPU12%8 CPUs');
    expect(meter).toHaveAttribute('data-level', 'normal');
  });

  it('says "High" and "Very high" in words, not only in colour', () => {
    const { rerender } = render(<Meter label="Memory" fraction={0.8} value="80%" />);
    expect(screen.getByRole('meter')).toHaveAttribute('aria-valuetext', '80%, High');
    expect(screen.getByText('High')).toBeInTheDocument();

    rerender(<Meter label="Memory" fraction={0.95} value="95%" />);
    expect(screen.getByRole('meter')).toHaveAttribute('aria-valuetext', '95%, Very high');
    expect(screen.getByRole('meter')).toHaveAttribute('data-level', 'danger');
  });

  it('leaves the bar empty and the value unknown when there is no fraction', () => {
    render(<Meter label="Root disk" fraction={null} value="—" />);
    expect(screen.getByRole('meter')).not.toHaveAttribute('aria-valuenow');
  });

  it('picks levels from thresholds', () => {
    expect(meterLevel(0.5)).toBe('normal');
    expect(meterLevel(0.75)).toBe('warning');
    expect(meterLevel(0.9)).toBe('danger');
    expect(meterLevel(0.85, { warning: 0.9, danger: 0.95 })).toBe('normal');
    expect(meterLevel(null)).toBe('normal');
  });
});
