import { useState, type FormEvent, type ReactNode } from 'react';
import { fieldErrors, problemMessage, type PlatformConnection as Connection, type PlatformStatus } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { QueryError } from '@/shared/ui/query-error';
import { Field, FormError } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { AlertTriangleIcon, CheckCircleIcon, CircleIcon, ClockIcon, RefreshIcon, XCircleIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { StatusBadge, type StatusTone } from '@/shared/ui/status-badge';
import { useDisconnectPlatform, useEnrolPlatform, usePlatformStatus } from '../api/platform';
import { FactsList } from '@/shared/ui/facts-list';

const BADGES: Record<Connection, { tone: StatusTone; label: string; icon: ReactNode }> = {
  'not-configured': { tone: 'neutral', label: 'Not connected to a platform', icon: <CircleIcon /> },
  'not-enrolled': { tone: 'neutral', label: 'Not enrolled', icon: <CircleIcon /> },
  enrolled: { tone: 'info', label: 'Enrolled — first report pending', icon: <ClockIcon /> },
  connected: { tone: 'success', label: 'Connected', icon: <CheckCircleIcon /> },
  retrying: { tone: 'warning', label: 'Platform unreachable — retrying', icon: <RefreshIcon /> },
  'token-rejected': { tone: 'danger', label: 'Platform rejected the site token — re-enrol', icon: <XCircleIcon /> },
};

/**
 * Settings section: whether this site reports to the central Ctrlable platform, and (admins only) enrol with a
 * one-time code, re-enrol, or disconnect. Everyone else sees the same facts read-only.
 */
export function PlatformConnection({ canManage }: { canManage: boolean }) {
  const query = usePlatformStatus();
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError)
    return <QueryError title="Could not load the platform status" query={query} />;
  const status = query.data;
  const badge = BADGES[status.connection];
  return (
    <div data-testid="platform-connection" data-connection={status.connection}>
      <p>
        <StatusBadge tone={badge.tone} icon={badge.icon}>
          {badge.label}
        </StatusBadge>
      </p>
      {status.connection === 'not-configured' ? (
        <p>
          This provisioner reports to no platform. To connect it, set <code>Platform:Url</code> (environment variable{' '}
          <code>CTRLABLE_PLATFORM__URL</code>) and restart it; then enrol it here with a code from the platform.
        </p>
      ) : (
        <StatusDetails status={status} />
      )}
      {status.connection === 'token-rejected' ? (
        <p className={form.formError} role="alert">
          <AlertTriangleIcon /> The platform rejected this site&apos;s token, so nothing is reported. Changes are kept and go out
          once the site is re-enrolled{canManage ? ' with a new code below' : ' (ask an admin)'}.
        </p>
      ) : null}
      {canManage && status.connection !== 'not-configured' ? <ManageEnrolment status={status} /> : null}
      {!canManage && status.connection !== 'not-configured' ? (
        <p className={form.hint}>Only an admin can enrol, re-enrol or disconnect this site.</p>
      ) : null}
    </div>
  );
}

function StatusDetails({ status }: { status: PlatformStatus }) {
  const enrolled = Boolean(status.siteId);
  return (
    <FactsList
      layout="stack"
      facts={[
        { term: 'Platform', value: status.platformUrl, mono: true },
        enrolled && { term: 'Site id', value: status.siteId, mono: true },
        enrolled && {
          term: 'Last successful report',
          value: status.lastReportAt ? <RelativeTime date={status.lastReportAt} /> : 'None yet',
        },
        enrolled && {
          term: 'Changes waiting',
          value: status.pendingChanges === 0 ? 'None' : `${status.pendingChanges} (sent together in the next report)`,
          testId: 'platform-pending',
        },
        status.lastError
          ? {
              term: 'Last error',
              value: (
                <>
                  {status.lastError}
                  {status.lastErrorAt ? (
                    <>
                      {' '}
                      (<RelativeTime date={status.lastErrorAt} />)
                    </>
                  ) : null}
                </>
              ),
              testId: 'platform-last-error',
            }
          : null,
        status.nextAttemptAt && status.connection === 'retrying'
          ? { term: 'Next attempt', value: <RelativeTime date={status.nextAttemptAt} /> }
          : null,
      ]}
    />
  );
}

function ManageEnrolment({ status }: { status: PlatformStatus }) {
  const enrolled = status.siteId != null;
  const [code, setCode] = useState('');
  const [confirmDisconnect, setConfirmDisconnect] = useState(false);
  const enrol = useEnrolPlatform();
  const disconnect = useDisconnectPlatform();
  const errors = fieldErrors(enrol.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    enrol.mutate({ code: code.trim(), replace: enrolled }, { onSuccess: () => setCode('') });
  }

  return (
    <>
      <form className={form.form} onSubmit={submit} noValidate>
        <Field
          label={enrolled ? 'New enrolment code' : 'Enrolment code'}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          hint={
            enrolled
              ? 'Re-enrolling replaces this site’s token (e.g. after the platform rejected it). Create a new code on the platform.'
              : 'Create a one-time code for this site on the platform and enter it here.'
          }
          errors={errors['code']}
          required
        />
        {enrol.isError && !errors['code'] ? <FormError>{problemMessage(enrol.error)}</FormError> : null}
        <div className={form.inline}>
          <Button variant="primary" type="submit" disabled={enrol.isPending || code.trim() === ''}>
            {enrol.isPending ? 'Enrolling…' : enrolled ? 'Re-enrol' : 'Enrol'}
          </Button>
          {enrolled ? (
            <Button variant="danger" onClick={() => setConfirmDisconnect(true)} disabled={disconnect.isPending}>
              Disconnect
            </Button>
          ) : null}
        </div>
      </form>
      {disconnect.isError ? <FormError>{problemMessage(disconnect.error)}</FormError> : null}
      {confirmDisconnect ? (
        <Dialog
          title="Disconnect from the platform?"
          tone="danger"
          onClose={() => setConfirmDisconnect(false)}
          actions={
            <>
              <Button onClick={() => setConfirmDisconnect(false)}>Cancel</Button>
              <Button
                variant="danger"
                onClick={() => disconnect.mutate(undefined, { onSettled: () => setConfirmDisconnect(false) })}
                disabled={disconnect.isPending}
              >
                Disconnect
              </Button>
            </>
          }
        >
          <p>
            The platform is told that this site leaves, then this site stops reporting and forgets its site token here.
            Changes not yet reported are dropped; enrolling again later sends a complete report.
          </p>
        </Dialog>
      ) : null}
    </>
  );
}
