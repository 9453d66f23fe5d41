import { useId, useState, type FormEvent } from 'react';
import { ApiError, problemMessage, type Instance } from '@/shared/api';
import { guestKindShort } from '@/shared/lib/instances';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { TrashIcon } from '@/shared/ui/icons';
import { useInstanceAction } from '../api/instance-actions';
import styles from './deploy.module.css';

/**
 * Confirms deleting an instance by typing its hostname, and says exactly what goes: the guest
 * (VM or CT with its VMID) and its disks.
 */
export function DeleteInstanceDialog({
  instance,
  onClose,
  onDeleted,
}: {
  instance: Pick<Instance, 'id' | 'hostname' | 'vmid' | 'kind' | 'node'>;
  onClose: () => void;
  onDeleted?: (instance: Instance) => void;
}) {
  const [typed, setTyped] = useState('');
  const inputId = useId();
  const action = useInstanceAction({
    onSuccess: (deleted) => {
      onDeleted?.(deleted);
      onClose();
    },
  });
  const matches = typed.trim() === instance.hostname;
  const guest = instance.vmid != null ? `${guestKindShort(instance.kind)} ${instance.vmid}` : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (matches) action.mutate({ id: instance.id, action: 'delete' });
  }

  return (
    <Dialog
      title={`Delete ${instance.hostname}?`}
      tone="danger"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="danger"
            type="submit"
            form={`${inputId}-form`}
            disabled={!matches || action.isPending}
            data-blocked={!matches ? '' : undefined}
          >
            <TrashIcon />
            {action.isPending ? 'Deleting…' : guest ? `Delete ${guest}` : 'Remove'}
          </Button>
        </>
      }
    >
      {guest ? (
        <p>
          This destroys{' '}
          <strong>
            {guest} {instance.hostname} and its disks
          </strong>
          {instance.node ? ` on node ${instance.node}` : ''}. Everything stored in it is lost for good; the instance stays
          in the project's history as deleted.
        </p>
      ) : (
        <p>
          No guest exists in Proxmox for <strong>{instance.hostname}</strong> yet; this removes it from the project.
        </p>
      )}
      <form id={`${inputId}-form`} onSubmit={submit} className={styles.confirmForm}>
        <label htmlFor={inputId} className={styles.confirmLabel}>
          Type <code>{instance.hostname}</code> to confirm
        </label>
        <input
          id={inputId}
          className={styles.confirmInput}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          autoComplete="off"
          spellCheck={false}
        />
      </form>
      {action.isError ? (
        <div className={styles.actionError} role="alert">
          <p>
            <strong>Not deleted:</strong> {problemMessage(action.error)}
          </p>
          {action.error instanceof ApiError ? (
            <details>
              <summary>Details</summary>
              <pre>{action.error.technicalSummary}</pre>
            </details>
          ) : null}
        </div>
      ) : null}
    </Dialog>
  );
}
