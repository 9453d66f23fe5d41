import { problemMessage, type SiteCredential } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { FormError } from '@/shared/ui/field';
import { RotateIcon } from '@/shared/ui/icons';
import { useRotateCredential } from '../api/credentials';

/** Confirms a rotation, says what it changes where, and why it did not happen when it failed. */
export function RotateDialog({
  projectId,
  credential,
  onRotated,
  onClose,
}: {
  projectId: number;
  credential: SiteCredential;
  onRotated: () => void;
  onClose: () => void;
}) {
  const rotate = useRotateCredential();
  return (
    <Dialog
      title={`Rotate the ${credential.label.toLowerCase()}?`}
      tone="danger"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="danger"
            disabled={rotate.isPending}
            onClick={() => rotate.mutate({ projectId, credentialId: credential.id }, { onSuccess: onRotated })}
          >
            <RotateIcon />
            {rotate.isPending ? 'Rotating…' : 'Rotate'}
          </Button>
        </>
      }
    >
      <p>
        A new value is generated and set in {credential.hostname ?? 'the site'} first; only then is it stored here, and the old one
        stops working. Whoever uses the old one needs the new one.
      </p>
      {rotate.isError ? (
        <FormError>
          <strong>Not rotated.</strong> {problemMessage(rotate.error)}
        </FormError>
      ) : null}
    </Dialog>
  );
}
