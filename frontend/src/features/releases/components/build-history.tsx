import type { BuildSummary } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { QueryError } from '@/shared/ui/query-error';
import { RelativeTime } from '@/shared/ui/relative-time';
import { useBuilds } from '../api/builds';
import { BuildStateBadge } from './build-state-badge';
import styles from './builds.module.css';
import { DataTable } from '@/shared/ui/data-table';

/** "4 min 12 s", "58 s", "1 h 3 min". */
export function formatDuration(from: string, to: string | null | undefined, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.round(((to ? new Date(to) : now).getTime() - new Date(from).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function Outcome({ build }: { build: BuildSummary }) {
  const built = build.templates.filter((t) => t.state === 'built').length;
  const kept = build.templates.filter((t) => t.state === 'skipped').length;
  const parts = [`${built} built`];
  if (kept > 0) parts.push(`${kept} already built`);
  if (build.state === 'failed') return <span className={styles.historyError}>{build.error ?? 'Failed'}</span>;
  return <span>{parts.join(', ')}</span>;
}

/** Earlier builds on this host, newest first; "View" opens one with its log. */
export function BuildHistory({ selected, onSelect }: { selected?: number | null; onSelect: (id: number) => void }) {
  const query = useBuilds();
  return (
    <section className={styles.history} aria-labelledby="build-history-title">
      <h2 id="build-history-title" className={styles.sectionTitle}>
        Build history
      </h2>
      {query.isPending ? (
        <p role="status">Loading…</p>
      ) : query.isError ? (
        <QueryError title="Could not load the build history" query={query} />
      ) : (
        <DataTable
          card
          className={styles.history}
          caption="Builds on this host, newest first"
          columns={[
            { header: 'Build' },
            { header: 'Release' },
            { header: 'State' },
            { header: 'Started' },
            { header: 'Took' },
            { header: 'Result' },
            { header: 'Actions', hidden: true },
          ]}
          rows={query.data}
          rowKey={(build) => build.id}
          renderRow={(build) => (
            <tr data-build={build.id} aria-current={selected === build.id ? 'true' : undefined}>
              <th scope="row">{build.id}</th>
              <td>{build.release}</td>
              <td>
                <BuildStateBadge state={build.state} />
              </td>
              <td>
                <RelativeTime date={build.startedAt} />
                {build.requestedBy ? <span className={styles.muted}> by {build.requestedBy}</span> : null}
              </td>
              <td>{build.state === 'running' ? '…' : formatDuration(build.startedAt, build.finishedAt)}</td>
              <td className={styles.outcome}>
                <Outcome build={build} />
              </td>
              <td>
                <Button onClick={() => onSelect(build.id)} aria-label={`View build ${build.id}`}>
                  View
                </Button>
              </td>
            </tr>
          )}
          empty={<p className={styles.muted}>No release was built on this host yet.</p>}
        />
      )}
    </section>
  );
}
