import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { instance } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, problemResponse, renderWithQueryClient } from '@/testing/test-utils';
import { DeleteInstanceDialog } from '../delete-instance-dialog';

const zwave = instance({ id: 2, type: 'zwavejs', hostname: 'smith-zwavejs', vmid: 1002, node: 'pve' });

describe('delete instance dialog', () => {
  it('says exactly what will be destroyed and deletes only once the hostname is typed', async () => {
    const user = userEvent.setup();
    const deletes: (string | null)[] = [];
    const onClose = vi.fn();
    mockApi({
      'DELETE /api/instances/2': (request) => {
        deletes.push(request.headers.get('X-CSRF-TOKEN'));
        return jsonResponse({ ...zwave, state: 'deleting' });
      },
    });
    renderWithQueryClient(<DeleteInstanceDialog instance={zwave} onClose={onClose} />);

    const dialog = screen.getByRole('dialog', { name: 'Delete smith-zwavejs?' });
    expect(dialog).toHaveTextContent('This destroys CT 1002 smith-zwavejs and its disks on node pve.');
    const input = within(dialog).getByLabelText('Type smith-zwavejs to confirm');
    expect(input).toHaveFocus();
    const confirm = within(dialog).getByRole('button', { name: 'Delete CT 1002' });
    expect(confirm).toBeDisabled();

    await user.type(input, 'smith-zwave');
    expect(confirm).toBeDisabled();
    await user.keyboard('{Enter}');
    expect(deletes).toEqual([]);

    await user.type(input, 'js');
    expect(confirm).toBeEnabled();
    await user.click(confirm);

    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(deletes).toEqual(['csrf-test-token']);
  });

  it('names a VM as a VM, and closes on Escape without deleting', async () => {
    const user = userEvent.setup();
    const onClose = vi.fn();
    mockApi({});
    renderWithQueryClient(
      <DeleteInstanceDialog instance={instance({ id: 1, type: 'ctrlable-pro', hostname: 'smith-ctrlable-pro', vmid: 1001 })} onClose={onClose} />,
    );
    expect(screen.getByRole('dialog')).toHaveTextContent('This destroys VM 1001 smith-ctrlable-pro and its disks');
    await user.keyboard('{Escape}');
    expect(onClose).toHaveBeenCalled();
  });

  it('keeps the dialog open and says why when the delete is refused', async () => {
    const user = userEvent.setup();
    const onClose = vi.fn();
    mockApi({
      'DELETE /api/instances/2': () =>
        problemResponse(409, 'Deploy in progress', 'smith-zwavejs is being deployed (cloning); delete it once it is active or failed.'),
    });
    renderWithQueryClient(<DeleteInstanceDialog instance={zwave} onClose={onClose} />);
    await user.type(screen.getByLabelText('Type smith-zwavejs to confirm'), 'smith-zwavejs{Enter}');

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Not deleted: smith-zwavejs is being deployed (cloning); delete it once it is active or failed.');
    expect(onClose).not.toHaveBeenCalled();
  });
});
