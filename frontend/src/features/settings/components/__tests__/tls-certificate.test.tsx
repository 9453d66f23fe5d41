import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { TlsCertificate } from '../tls-certificate';

describe('TLS certificate', () => {
  it('shows the SHA-256 fingerprint to pin', async () => {
    const fingerprint = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
    mockApi({
      'GET /api/tls': () =>
        jsonResponse({
          sha256Fingerprint: fingerprint,
          subject: 'CN=pve, O=Ctrlable Provisioner',
          names: ['pve', 'localhost', '127.0.0.1'],
          notBefore: '2026-01-01T00:00:00Z',
          notAfter: '2036-01-01T00:00:00Z',
          source: 'generated',
          httpsUrls: ['https://0.0.0.0:8443'],
        }),
    });
    renderWithQueryClient(<TlsCertificate />);

    expect(await screen.findByTestId('tls-fingerprint')).toHaveTextContent(fingerprint);
    expect(screen.getByText(/generated on first start/)).toBeInTheDocument();
    expect(screen.getByText('https://0.0.0.0:8443')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Copy fingerprint' })).toBeInTheDocument();
  });
});
