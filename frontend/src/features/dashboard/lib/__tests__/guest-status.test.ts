import { describe, expect, it } from 'vitest';
import { guest } from '@/testing/fixtures/dashboard';
import { groupHealth, guestStatus } from '../guest-status';

describe('guestStatus', () => {
  it.each([
    [{ status: 'running', instanceState: 'active' }, 'success', 'Running', false],
    [{ status: 'running', instanceState: null }, 'success', 'Running', false],
    [{ status: 'stopped', instanceState: 'active' }, 'neutral', 'Stopped', false],
    [{ status: 'running', instanceState: 'personalising' }, 'info', 'Personalising', true],
    [{ status: 'stopped', instanceState: 'cloning' }, 'info', 'Cloning', true],
    [{ status: 'running', instanceState: 'needs-binding' }, 'warning', 'Needs USB binding', false],
    [{ status: 'stopped', instanceState: 'failed' }, 'danger', 'Failed', false],
    [{ status: 'running', lock: 'backup' }, 'info', 'Busy: backup', true],
    [{ status: 'paused' }, 'neutral', 'Paused', false],
    [{ status: 'unknown' }, 'warning', 'Status unknown', false],
  ] as const)('%o → %s "%s"', (fields, tone, label, busy) => {
    const input: Parameters<typeof guestStatus>[0] = { lock: null, instanceState: null, ...fields };
    expect(guestStatus(input)).toEqual({ tone, label, busy });
  });

  it('lets a failed instance win over a running guest and a lock', () => {
    expect(guestStatus({ status: 'running', lock: 'backup', instanceState: 'failed' }).tone).toBe('danger');
  });
});

describe('groupHealth', () => {
  it('says "All N running" when everything runs', () => {
    expect(groupHealth([guest({ vmid: 1, name: 'a' }), guest({ vmid: 2, name: 'b' })])).toEqual({
      tone: 'success',
      label: 'All 2 running',
    });
  });

  it('takes the worst tone and counts each, worst first', () => {
    const guests = [
      guest({ vmid: 1, name: 'a' }),
      guest({ vmid: 2, name: 'b', status: 'stopped' }),
      guest({ vmid: 3, name: 'c', instanceState: 'needs-binding' }),
      guest({ vmid: 4, name: 'd', instanceState: 'failed' }),
      guest({ vmid: 5, name: 'e', instanceState: 'failed' }),
    ];
    expect(groupHealth(guests)).toEqual({
      tone: 'danger',
      label: '2 failed · 1 needs attention · 1 stopped · 1 running',
    });
  });

  it('counts a running guest whose app does not answer as "app down", in red', () => {
    const down = { state: 'down', since: '2026-12-04T10:00:00Z', checkedAt: '2026-12-04T10:05:00Z', detail: 'connection refused', target: '10.0.0.5:8080' } as const;
    const up = { ...down, state: 'up', detail: 'HTTP 200' } as const;
    expect(groupHealth([guest({ vmid: 1, name: 'a', app: up }), guest({ vmid: 2, name: 'b', app: down })])).toEqual({
      tone: 'danger',
      label: '1 app down · 1 running',
    });
    expect(
      groupHealth([
        guest({ vmid: 1, name: 'a', app: down }),
        guest({ vmid: 2, name: 'b', instanceState: 'failed' }),
        guest({ vmid: 3, name: 'c', status: 'stopped', app: down }),
      ]),
    ).toEqual({ tone: 'danger', label: '1 failed · 1 app down · 1 stopped' });
  });

  it('has a word for an empty group', () => {
    expect(groupHealth([])).toEqual({ tone: 'neutral', label: 'No guests' });
  });
});
