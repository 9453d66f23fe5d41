import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { StatusTone } from '../status-badge';
import { TONE_ICONS, ToneIcon } from '../tone-icon';

const tones: StatusTone[] = ['success', 'info', 'neutral', 'warning', 'danger'];

describe('ToneIcon', () => {
  it('has a different shape for every tone, so colour is never the only signal', () => {
    expect(new Set(tones.map((t) => TONE_ICONS[t])).size).toBe(tones.length);
  });

  it.each(tones)('renders the %s icon as decoration hidden from assistive technology', (tone) => {
    const { container } = render(<ToneIcon tone={tone} />);
    const svg = container.querySelector('svg');
    expect(svg).not.toBeNull();
    expect(svg).toHaveAttribute('aria-hidden', 'true');
    expect(svg).toHaveAttribute('data-tone-icon', tone);
  });

  it('passes size props through', () => {
    const { container } = render(<ToneIcon tone="danger" width={24} height={24} />);
    expect(container.querySelector('svg')).toHaveAttribute('width', '24');
  });
});
