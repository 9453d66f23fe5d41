import { useState } from 'react';
import { problemMessage, type AlertTargetView, type AlertTestResult } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { FormError } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { QueryError } from '@/shared/ui/query-error';
import { RelativeTime } from '@/shared/ui/relative-time';
import { StatusBadge } from '@/shared/ui/status-badge';
import { useAlertIncidents, useAlertTargets, useDeleteAlertTarget, useTestAlertTarget } from '../api/alerts';
import { AlertTargetForm } from './alert-target-form';

const KIND_LABEL: Record<string, string> = { webhook: 'Webhook', ntfy: 'ntfy', smtp: 'E-mail' };

function destination(target: AlertTargetView): string {
  if (target.webhook) return target.webhook.url;
  if (target.ntfy) return `${target.ntfy.server.replace(/\/$/, '')}/${target.ntfy.topic}`;
  if (target.smtp) return `${target.smtp.to.join(', ')} via ${target.smtp.host}:${target.smtp.port}`;
  return '';
}

/** Settings › Alerts (admin): the notification targets, each with "Send test", edit and remove; and a new one. */
export function AlertTargets() {
  const query = useAlertTargets();
  const [editing, setEditing] = useState<AlertTargetView | 'new' | null>(null);
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError) return <QueryError title="Could not load the notification targets" query={query} />;
  return (
    <div data-testid="alert-targets">
      {query.data.length === 0 ? <p>No notification target yet: incidents are only listed below until you add one.</p> : null}
      <ul className={form.form}>
        {query.data.map((target) => (
          <TargetRow key={target.id} target={target} onEdit={() => setEditing(target)} />
        ))}
      </ul>
      {editing === null ? (
        <Button variant="primary" onClick={() => setEditing('new')}>
          Add a target
        </Button>
      ) : (
        <AlertTargetForm key={editing === 'new' ? 'new' : editing.id} target={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />
      )}
    </div>
  );
}

function TargetRow({ target, onEdit }: { target: AlertTargetView; onEdit: () => void }) {
  const test = useTestAlertTarget();
  const remove = useDeleteAlertTarget();
  const [confirm, setConfirm] = useState(false);
  return (
    <li data-testid={`alert-target-${target.id}`}>
      <strong>{target.name}</strong> · {KIND_LABEL[target.kind] ?? target.kind} · <code>{destination(target)}</code>{' '}
      {target.enabled ? null : <StatusBadge tone="neutral">Disabled</StatusBadge>}
      <div className={form.inline}>
        <Button onClick={() => test.mutate(target.id)} disabled={test.isPending}>
          {test.isPending ? 'Sending…' : 'Send test'}
        </Button>
        <Button onClick={onEdit}>Edit</Button>
        <Button variant="danger" onClick={() => setConfirm(true)}>
          Remove
        </Button>
      </div>
      {test.data ? <TestResult result={test.data} /> : null}
      {test.isError ? <FormError>{problemMessage(test.error)}</FormError> : null}
      {remove.isError ? <FormError>{problemMessage(remove.error)}</FormError> : null}
      {confirm ? (
        <Dialog
          title={`Remove ${target.name}?`}
          tone="danger"
          onClose={() => setConfirm(false)}
          actions={
            <>
              <Button onClick={() => setConfirm(false)}>Cancel</Button>
              <Button variant="danger" onClick={() => remove.mutate(target.id, { onSettled: () => setConfirm(false) })} disabled={remove.isPending}>
                Remove
              </Button>
            </>
          }
        >
          <p>Its secrets are deleted and notifications still owed to it are dropped.</p>
        </Dialog>
      ) : null}
    </li>
  );
}

export function TestResult({ result }: { result: AlertTestResult }) {
  return (
    <p role="status" data-testid="alert-test-result">
      <StatusBadge tone={result.delivered ? 'success' : 'danger'}>{result.delivered ? 'Delivered' : 'Not delivered'}</StatusBadge> {result.answer}
    </p>
  );
}

/** The latest incidents: what happened, whether it was notified, whether it is resolved. */
export function AlertIncidents() {
  const query = useAlertIncidents();
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError) return <QueryError title="Could not load the incidents" query={query} />;
  if (query.data.length === 0) return <p>No incidents.</p>;
  return (
    <ul>
      {query.data.map((incident) => (
        <li key={incident.id}>
          <StatusBadge tone={incident.resolvedAt ? 'success' : incident.severity === 'critical' ? 'danger' : 'warning'}>
            {incident.resolvedAt ? 'Resolved' : 'Open'}
          </StatusBadge>{' '}
          <strong>{incident.title}</strong> — {incident.detail} (<RelativeTime date={incident.openedAt} />
          {incident.events > 1 ? `, ${incident.events} times` : ''}
          {incident.notifiedAt ? ', notified' : ''})
        </li>
      ))}
    </ul>
  );
}
