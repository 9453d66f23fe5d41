import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { invalidRelease, privilegedRelease, validRelease } from '@/testing/fixtures/releases';
import {
  jsonResponse,
  mockFetch,
  pendingForever,
  problemResponse,
  renderWithQueryClient,
  requestPath,
} from '@/testing/test-utils';
import { ReleasesList } from '../releases-list';

function releaseRow(name: string) {
  return screen.getByRole('row', { name: new RegExp(`^${name.replace('.', '\\.')}\\b`) });
}

describe('ReleasesList', () => {
  it('asks GET /api/releases and lists valid and invalid releases', async () => {
    const fetchMock = mockFetch(() => jsonResponse([validRelease, invalidRelease]));

    renderWithQueryClient(<ReleasesList />);

    const valid = await screen.findByRole('row', { name: /^2026\.06\b/ });
    expect(within(valid).getByText('Valid')).toBeInTheDocument();
    expect(within(valid).getByText('Active')).toBeInTheDocument();
    expect(within(valid).getByText('2026.06.yaml')).toBeInTheDocument();
    expect(within(valid).getByText('2026-05-30')).toBeInTheDocument();
    expect(within(valid).getByText('8.2 or later')).toBeInTheDocument();
    expect(within(valid).getByRole('button', { name: 'Templates of 2026.06' })).toHaveTextContent('6');

    const invalid = releaseRow('2026.07');
    expect(within(invalid).getByText('Invalid')).toBeInTheDocument();
    expect(within(invalid).queryByText('Active')).not.toBeInTheDocument();
    expect(within(invalid).getByText('not active')).toBeInTheDocument();
    expect(within(invalid).getByRole('cell', { name: '0' })).toBeInTheDocument();

    expect(screen.getByText('2 releases', { exact: false })).toBeInTheDocument();
    expect(screen.getByText('1 with problems')).toBeInTheDocument();

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const request = fetchMock.mock.calls[0]?.[0] as Request;
    expect(request.method).toBe('GET');
    expect(requestPath(request)).toBe('/api/releases');
  });

  it('keeps the errors of an invalid release behind a "Details" disclosure', async () => {
    mockFetch(() => jsonResponse([validRelease, invalidRelease]));
    const user = userEvent.setup();

    renderWithQueryClient(<ReleasesList />);

    const summary = await screen.findByText((_, element) => element?.tagName === 'SUMMARY');
    expect(summary).toHaveTextContent(/^Details · 2 problems in release 2026\.07$/);
    // Only the invalid release gets a disclosure.
    expect(document.querySelectorAll('details')).toHaveLength(1);

    const disclosure = summary.closest('details');
    if (!disclosure) throw new Error('summary outside <details>');
    expect(disclosure).toHaveAttribute('data-tone', 'danger');
    const firstError = within(disclosure).getByText((_, element) => element?.tagName === 'LI' && element.textContent?.startsWith('2026.07.yaml:12:5') === true);
    expect(firstError).toHaveTextContent(
      '2026.07.yaml:12:5 templates.zwavejs.vmid — must be a whole number between 100 and 999999999',
    );
    expect(within(disclosure).getByText('2026.07.yaml:3:1')).toBeInTheDocument();
    expect(disclosure).not.toHaveAttribute('open');
    expect(firstError).not.toBeVisible();

    await user.click(summary);

    expect(disclosure).toHaveAttribute('open');
    expect(firstError).toBeVisible();
  });

  it('shows the warnings of a valid release behind their own "Details" disclosure', async () => {
    mockFetch(() => jsonResponse([validRelease, privilegedRelease]));

    renderWithQueryClient(<ReleasesList />);

    const summary = await screen.findByText((_, element) => element?.tagName === 'SUMMARY');
    expect(summary).toHaveTextContent(/^Details · 1 warning in release 2026\.08$/);
    expect(document.querySelectorAll('details')).toHaveLength(1);
    const disclosure = summary.closest('details');
    if (!disclosure) throw new Error('summary outside <details>');
    // A warning is amber, not the red of an invalid manifest.
    expect(disclosure).toHaveAttribute('data-tone', 'warning');
    expect(within(disclosure).getByText('2026.08.yaml:61:19')).toBeInTheDocument();
    expect(within(disclosure).getByText(/ALLOW_PRIVILEGED=yes/)).toBeInTheDocument();
    expect(within(releaseRow('2026.08')).getByText('Valid')).toBeInTheDocument();
  });

  it('shows a skeleton and says it is loading while the answer is on its way', () => {
    mockFetch(() => pendingForever());

    renderWithQueryClient(<ReleasesList />);

    expect(screen.getByRole('status')).toHaveTextContent('Loading releases…');
    expect(screen.getAllByTestId('release-skeleton-row')).toHaveLength(3);
    expect(screen.getByRole('table')).toHaveAttribute('aria-busy', 'true');
    expect(screen.queryByText('Valid')).not.toBeInTheDocument();
  });

  it('explains a server error, keeps the technical detail behind Details, and retries', async () => {
    let calls = 0;
    const fetchMock = mockFetch(() => {
      calls += 1;
      return calls === 1
        ? problemResponse(500, 'An error occurred while processing your request.')
        : jsonResponse([validRelease]);
    });
    const user = userEvent.setup();

    renderWithQueryClient(<ReleasesList />);

    const alert = await screen.findByRole('alert');
    expect(within(alert).getByRole('heading', { name: 'Could not load the releases' })).toBeInTheDocument();
    expect(alert).toHaveTextContent('HTTP 500');
    expect(within(alert).getByText('Details')).toBeInTheDocument();
    expect(alert).toHaveTextContent(
      'GET /api/releases → HTTP 500 — An error occurred while processing your request.',
    );

    await user.click(within(alert).getByRole('button', { name: 'Try again' }));

    expect(await screen.findByRole('row', { name: /^2026\.06\b/ })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('says the provisioner did not answer when the network fails', async () => {
    mockFetch(() => Promise.reject(new TypeError('fetch failed')));

    renderWithQueryClient(<ReleasesList />);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The provisioner did not answer');
    expect(alert).toHaveTextContent('GET /api/releases → no response (TypeError: fetch failed)');
  });

  it('says what to do when there are no release files', async () => {
    const fetchMock = mockFetch(() => jsonResponse([]));
    const user = userEvent.setup();

    renderWithQueryClient(<ReleasesList />);

    expect(
      await screen.findByRole('heading', { name: 'No release files found in releases/' }),
    ).toBeInTheDocument();
    expect(screen.queryByRole('table')).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Check again' }));
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
  });
});
