import { useState, type FormEvent } from 'react';
import { ApiError, problemCode, problemMessage } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { Field, FormError } from '@/shared/ui/field';
import { useRevealCredentials } from '../api/credentials';

/** Which secrets to reveal, and whether for the page or for the hand-over sheet. */
export type Prompt = { ids: string[]; purpose: 'reveal' | 'sheet' };

/** Asks the admin's password again before values are revealed; says plainly when it was wrong. */
export function PasswordDialog({
  projectId,
  prompt,
  onRevealed,
  onClose,
}: {
  projectId: number;
  prompt: Prompt;
  onRevealed: (values: { id: string; value: string }[]) => void;
  onClose: () => void;
}) {
  const [password, setPassword] = useState('');
  const reveal = useRevealCredentials();

  function submit(event: FormEvent) {
    event.preventDefault();
    reveal.mutate(
      { projectId, credentialIds: prompt.ids, password },
      {
        onSuccess: (values) => onRevealed(values),
        onSettled: () => setPassword(''),
      },
    );
  }

  const wrong = reveal.error instanceof ApiError && problemCode(reveal.error) === 'wrong-password';
  const count = prompt.ids.length;
  return (
    <Dialog
      title="Confirm with your password"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" type="submit" form="reveal-form" disabled={reveal.isPending || password.length === 0}>
            {prompt.purpose === 'sheet' ? 'Prepare the sheet' : count === 1 ? 'Reveal' : `Reveal ${count}`}
          </Button>
        </>
      }
    >
      <form id="reveal-form" onSubmit={submit} noValidate>
        <p>
          {count === 1 ? 'This secret is' : `These ${count} secrets are`} shown only after you enter your own password again. Each
          reveal is recorded in the audit log (who, which secret, when).
        </p>
        <Field
          label="Your password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          errors={wrong ? ['That is not your password. Nothing was revealed.'] : undefined}
        />
        {reveal.isError && !wrong ? <FormError>{problemMessage(reveal.error)}</FormError> : null}
      </form>
    </Dialog>
  );
}
