import { TokensPage } from '@/features/api-tokens';
import { AuditLogPage } from '@/features/audit';
import { UsersPage } from '@/features/users';
import { PageHeader } from '@/shared/ui/page-header';

export function UsersRoute() {
  return (
    <>
      <title>Users · Ctrlable Provisioner</title>
      <PageHeader
        title="Users"
        description="Dealer accounts. viewer reads; operator also deploys, runs lifecycle actions and builds; admin also manages users, tokens and settings."
      />
      <UsersPage />
    </>
  );
}

export function TokensRoute() {
  return (
    <>
      <title>API tokens · Ctrlable Provisioner</title>
      <PageHeader title="API tokens" description="Tokens for integrators who script this provisioner's API (see /swagger)." />
      <TokensPage />
    </>
  );
}

export function AuditRoute() {
  return (
    <>
      <title>Audit log · Ctrlable Provisioner</title>
      <PageHeader title="Audit log" description="Every change made through the API: who, what, on what, with which result." />
      <AuditLogPage />
    </>
  );
}
