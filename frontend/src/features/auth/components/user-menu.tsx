import type { CurrentUser } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { useSignOut } from '../api/session';

/** Who is signed in, with their role, and the sign-out button (for the header). */
export function UserMenu({ user, onSignedOut }: { user: CurrentUser; onSignedOut: () => void }) {
  const signOut = useSignOut({ onSuccess: onSignedOut });
  return (
    <>
      <span>
        {user.name} <span aria-label={`role ${user.role}`}>({user.role})</span>
      </span>
      <Button onClick={() => signOut.mutate()} disabled={signOut.isPending}>
        {signOut.isPending ? 'Signing out…' : 'Sign out'}
      </Button>
    </>
  );
}
