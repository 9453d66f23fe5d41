import { describe, expect, it } from 'vitest';
import {
  formatAbsolute,
  formatSlot,
  formatDisk,
  formatDiskUsage,
  formatDuration,
  formatLoad,
  formatMemory,
  formatMemoryUsage,
  formatPercent,
  formatRelative,
  fractionOf,
  plural,
} from '../format';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

describe('format', () => {
  it('memory in GiB from 1 GiB on, MiB below', () => {
    expect(formatMemory(7.6 * GIB)).toBe('7.6 GiB');
    expect(formatMemory(GIB)).toBe('1.0 GiB');
    expect(formatMemory(512 * MIB)).toBe('512 MiB');
    expect(formatMemory(256 * GIB)).toBe('256 GiB');
    expect(formatMemory(null)).toBe('—');
  });

  it('memory usage in the unit of the total', () => {
    expect(formatMemoryUsage(3.2 * GIB, 16 * GIB)).toBe('3.2 / 16.0 GiB');
    expect(formatMemoryUsage(512 * MIB, 2 * GIB)).toBe('0.5 / 2.0 GiB');
    expect(formatMemoryUsage(300 * MIB, 512 * MIB)).toBe('300 / 512 MiB');
    expect(formatMemoryUsage(1, 0)).toBe('—');
  });

  it('disk in decimal GB, whole numbers with separators from 100 on', () => {
    expect(formatDisk(12.34e9)).toBe('12.3 GB');
    expect(formatDisk(1_842e9)).toBe('1,842 GB');
    expect(formatDiskUsage(12.3e9, 100e9)).toBe('12.3 / 100 GB');
    expect(formatDiskUsage(0, 0)).toBe('—');
    expect(formatDisk(undefined)).toBe('—');
  });

  it('CPU and other fractions as whole percentages', () => {
    expect(formatPercent(0.123)).toBe('12%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(0.001)).toBe('<1%');
    expect(formatPercent(Number.NaN)).toBe('—');
    expect(fractionOf(1, 4)).toBe(0.25);
    expect(fractionOf(5, 4)).toBe(1);
    expect(fractionOf(1, 0)).toBeNull();
  });

  it('durations in their two largest units', () => {
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(12 * 60 + 5)).toBe('12 min');
    expect(formatDuration(5 * 3600 + 12 * 60)).toBe('5 h 12 min');
    expect(formatDuration(2 * 3600)).toBe('2 h');
    expect(formatDuration(3 * 86_400 + 4 * 3600 + 59)).toBe('3 d 4 h');
    expect(formatDuration(86_400)).toBe('1 d');
    expect(formatDuration(-1)).toBe('—');
  });

  it('load averages to two decimals', () => {
    expect(formatLoad([0.42, 0.35, 0.3])).toBe('0.42 · 0.35 · 0.30');
    expect(formatLoad([])).toBe('—');
  });

  it('relative times', () => {
    const now = Date.parse('2026-11-25T14:00:00Z');
    expect(formatRelative('2026-11-25T14:00:00Z', now)).toBe('just now');
    expect(formatRelative('2026-11-25T14:00:05Z', now)).toBe('just now');
    expect(formatRelative('2026-11-25T13:59:56Z', now)).toBe('4 s ago');
    expect(formatRelative('2026-11-25T13:59:00Z', now)).toBe('1 min ago');
    expect(formatRelative('2026-11-25T13:00:01Z', now)).toBe('59 min ago');
    expect(formatRelative('2026-11-25T11:00:00Z', now)).toBe('3 h ago');
    expect(formatRelative('2026-11-24T13:00:00Z', now)).toBe('1 day ago');
    expect(formatRelative('2026-11-20T14:00:00Z', now)).toBe('5 days ago');
    expect(formatRelative('not a date', now)).toBe('—');
  });

  it('relative times ahead: a next slot reads "in …", a few seconds of clock difference still "just now"', () => {
    const now = Date.parse('2026-11-25T14:00:00Z');
    expect(formatRelative('2026-11-25T14:00:40Z', now)).toBe('in 40 s');
    expect(formatRelative('2026-11-25T14:30:00Z', now)).toBe('in 30 min');
    expect(formatRelative('2026-11-25T19:00:00Z', now)).toBe('in 5 h');
    expect(formatRelative('2026-11-26T14:00:00Z', now)).toBe('in 1 day');
    expect(formatRelative('2026-11-28T15:00:00Z', now)).toBe('in 3 days');
  });

  it('absolute times in the browser locale', () => {
    const text = formatAbsolute('2026-11-25T14:00:00Z');
    expect(text).toMatch(/2026/);
    expect(formatAbsolute('nope')).toBe('—');
  });

  it("schedule slots in the site's zone, on a 24-hour clock", () => {
    // 20:38 UTC is 21:38 in Berlin in December and 15:38 in New York.
    expect(formatSlot('2026-12-05T20:38:00Z', 'Europe/Berlin')).toMatch(/\b21:38\b/);
    expect(formatSlot('2026-12-05T20:38:00Z', 'America/New_York')).toMatch(/\b15:38\b/);
    expect(formatSlot('2026-12-05T20:38:00Z', 'America/New_York')).not.toMatch(/PM|AM/i);
    // A zone the browser does not know: the browser's own zone, still a 24-hour clock.
    expect(formatSlot('2026-12-05T20:38:00Z', 'Not/AZone')).toMatch(/2026.*\d\d:38/);
    expect(formatSlot('nope', 'UTC')).toBe('—');
  });

  it('plurals', () => {
    expect(plural(1, 'guest')).toBe('1 guest');
    expect(plural(3, 'guest')).toBe('3 guests');
    expect(plural(0, 'CPU')).toBe('0 CPUs');
  });
});
