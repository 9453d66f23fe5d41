// Numbers people read, formatted the same way everywhere (see the UX notes): memory in GiB/MiB,
// disk in GB, CPU as %, times relative ("2 min ago") with the absolute time on hover.
// Numbers use a fixed style (dot decimals, comma thousands) so a screen never mixes conventions;
// only the absolute date/time follows the browser's locale.

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const GB = 1000 ** 3;

/** Shown for a value that is not known. */
export const NOT_KNOWN = '—';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function isNumber(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** One decimal below 100, whole numbers (with thousands separators) from 100 on. */
function amount(value: number): string {
  return value < 100 ? value.toFixed(1) : grouped.format(Math.round(value));
}

/** `count` and the noun, singular or plural: "1 guest", "3 guests". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Memory: GiB from 1 GiB on ("7.6 GiB"), MiB below ("512 MiB"). */
export function formatMemory(bytes: number | null | undefined): string {
  if (!isNumber(bytes)) return NOT_KNOWN;
  if (bytes >= GIB) return `${amount(bytes / GIB)} GiB`;
  return `${Math.round(bytes / MIB)} MiB`;
}

/** Used and total memory in the unit of the total: "3.2 / 7.6 GiB", "300 / 512 MiB". */
export function formatMemoryUsage(used: number | null | undefined, total: number | null | undefined): string {
  if (!isNumber(used) || !isNumber(total) || total <= 0) return NOT_KNOWN;
  if (total >= GIB) return `${amount(used / GIB)} / ${amount(total / GIB)} GiB`;
  return `${Math.round(used / MIB)} / ${Math.round(total / MIB)} MiB`;
}

/** Disk sizes in decimal GB, as disks are sold: "12.3 GB", "1,842 GB". */
export function formatDisk(bytes: number | null | undefined): string {
  if (!isNumber(bytes)) return NOT_KNOWN;
  return `${amount(bytes / GB)} GB`;
}

/** Used and total disk: "12.3 / 100 GB". */
export function formatDiskUsage(used: number | null | undefined, total: number | null | undefined): string {
  if (!isNumber(used) || !isNumber(total) || total <= 0) return NOT_KNOWN;
  return `${amount(used / GB)} / ${amount(total / GB)} GB`;
}

/** A fraction as a whole percentage: 0.123 → "12%"; a trace above zero shows as "<1%". */
export function formatPercent(fraction: number | null | undefined): string {
  if (!isNumber(fraction)) return NOT_KNOWN;
  const percent = Math.max(0, fraction * 100);
  if (percent > 0 && percent < 0.5) return '<1%';
  return `${Math.round(percent)}%`;
}

/** used / total as a fraction in 0..1, or null when the total is not known. */
export function fractionOf(used: number | null | undefined, total: number | null | undefined): number | null {
  if (!isNumber(used) || !isNumber(total) || total <= 0) return null;
  return Math.min(1, Math.max(0, used / total));
}

/** A duration in its two largest units: "3 d 4 h", "5 h 12 min", "12 min", "45 s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isNumber(seconds) || seconds < 0) return NOT_KNOWN;
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return `${minutes} min`;
  return `${s} s`;
}

/** Load averages (1, 5, 15 min) to two decimals: "0.42 · 0.35 · 0.30". */
export function formatLoad(loadAverage: readonly number[] | null | undefined): string {
  if (!loadAverage || loadAverage.length === 0) return NOT_KNOWN;
  return loadAverage.map((load) => (isNumber(load) ? load.toFixed(2) : NOT_KNOWN)).join(' · ');
}

function toMillis(date: Date | string | number): number {
  return date instanceof Date ? date.getTime() : typeof date === 'number' ? date : Date.parse(date);
}

/**
 * How long ago `date` was, or how long until it is, seen from `now`: "just now", "4 s ago", "2 min ago", "3 h ago",
 * "1 day ago"; "in 40 s", "in 5 h", "in 1 day" (a backup's next slot). Up to 5 s ahead reads "just now": the host's
 * and the browser's clocks are a little apart.
 */
export function formatRelative(date: Date | string | number, now: Date | number = Date.now()): string {
  const then = toMillis(date);
  if (!Number.isFinite(then)) return NOT_KNOWN;
  const seconds = Math.floor((toMillis(now) - then) / 1000);
  if (seconds < -5) return `in ${span(-seconds)}`;
  if (seconds < 1) return 'just now';
  return `${span(seconds)} ago`;
}

/** A positive number of seconds in the largest unit that fits: "4 s", "2 min", "3 h", "1 day". */
function span(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h`;
  return plural(Math.floor(hours / 24), 'day');
}

const absoluteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/**
 * A schedule's slot as its schedule says it: the date and the 24-hour time in the site's time zone (the orchestrator's,
 * which the schedule runs in), so "daily at 21:38 (Europe/Berlin)" has its runs "scheduled for Dec 5, 2026, 21:38"
 * whatever the browser's zone and clock style. An unknown zone name falls back to the browser's zone.
 */
export function formatSlot(date: Date | string | number, timeZone: string): string {
  const millis = toMillis(date);
  if (!Number.isFinite(millis)) return NOT_KNOWN;
  const style = { dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' } as const;
  try {
    return new Intl.DateTimeFormat(undefined, { ...style, timeZone }).format(millis);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return new Intl.DateTimeFormat(undefined, style).format(millis);
  }
}

/** The absolute date and time in the browser's locale (for the hover text of a relative time). */
export function formatAbsolute(date: Date | string | number): string {
  const millis = toMillis(date);
  return Number.isFinite(millis) ? absoluteFormat.format(millis) : NOT_KNOWN;
}
