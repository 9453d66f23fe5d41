import { useState } from 'react';
import type { AuditRecord } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { StatusBadge } from '@/shared/ui/status-badge';
import table from '@/shared/ui/table.module.css';
import { PAGE_SIZE, useAuditPage } from '../api/audit';
import { DataTable } from '@/shared/ui/data-table';

function Result({ status }: { status: number }) {
  if (status < 400) return <StatusBadge tone="success">{status}</StatusBadge>;
  if (status === 401 || status === 403) return <StatusBadge tone="warning">{status} refused</StatusBadge>;
  return <StatusBadge tone="danger">{status}</StatusBadge>;
}

function Row({ entry }: { entry: AuditRecord }) {
  const at = new Date(entry.at);
  return (
    <tr>
      <td title={at.toISOString()}>{at.toLocaleString()}</td>
      <td>
        {entry.actorName ?? 'anonymous'} <small>({entry.actorKind})</small>
      </td>
      <td>
        <code>
          {entry.method} {entry.route}
        </code>
      </td>
      <td>{entry.target ?? ''}</td>
      <td>
        <Result status={entry.statusCode} />
      </td>
      <td>{entry.remoteIp ?? ''}</td>
    </tr>
  );
}

/** Admin: the audit log of every state-changing request, newest first, a page at a time. */
export function AuditLogPage() {
  const [page, setPage] = useState(1);
  const query = useAuditPage(page);

  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError)
    return <QueryError title="Could not load the audit log" query={query} />;
  if (query.data.total === 0)
    return (
      <EmptyState title="Nothing recorded yet">
        <p>Every sign-in and every change made through the API appears here.</p>
      </EmptyState>
    );

  const pages = Math.max(1, Math.ceil(query.data.total / PAGE_SIZE));
  return (
    <>
      <DataTable
        columns={[{ header: 'When' }, { header: 'Who' }, { header: 'What' }, { header: 'Target' }, { header: 'Result' }, { header: 'From' }]}
        rows={query.data.items}
        rowKey={(entry) => entry.id}
        renderRow={(entry) => <Row entry={entry} />}
      />
      <nav className={table.pager} aria-label="Audit pages">
        <Button onClick={() => setPage(page - 1)} disabled={page <= 1 || query.isFetching}>
          Newer
        </Button>
        <span>
          Page {page} of {pages} ({query.data.total} entries)
        </span>
        <Button onClick={() => setPage(page + 1)} disabled={page >= pages || query.isFetching}>
          Older
        </Button>
      </nav>
    </>
  );
}
