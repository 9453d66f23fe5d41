// Guest backups in the browser, against the orchestrator in demo mode (SPEC §8h): a dealer sets the project's backup
// schedule in its settings (daily at the next minute's HH:MM, onto `local`, keeping two); while the schedule's slot
// comes, a "Back up now" backup is restored into a new VMID from the project page; then the run the *scheduler* fires
// at the slot appears in the list, and the guest's last backup (in the panel and on its card) is the one it made.
//
// Wall time: the slot is the first whole minute at least SLOT_LEAD_MS away, so the test waits for it at most a minute
// (the restore and the button's backup use that wait); the scheduler looks every second.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiRequest, deploySite, emulatorRequest, launchBrowser, screenshot, signInAsAdmin, startOrchestrator, waitUntil } from './harness.mjs';

/** The schedule must be saved (and seen by the scheduler) before its slot: the slot is at least this far ahead. */
const SLOT_LEAD_MS = 5_000;

let orchestrator;
let browser;

before(async () => {
  orchestrator = await startOrchestrator({
    SIMULATOR__TIMINGSCALE: '0.1',
    HOMEASSISTANT__POLLINTERVALSECONDS: '0.3',
    GUESTBACKUPS__CHECKINTERVALSECONDS: '1',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

const pad = (n) => String(n).padStart(2, '0');

/**
 * The next slot: the first whole minute at least SLOT_LEAD_MS from now, as HH:MM on the clock of the orchestrator
 * (same machine and TZ as this process: the scheduler reads slots in the host's local time zone).
 */
function nextSlot() {
  const at = new Date(Date.now() + SLOT_LEAD_MS);
  at.setSeconds(0, 0);
  at.setMinutes(at.getMinutes() + 1);
  return { at, hhmm: `${pad(at.getHours())}:${pad(at.getMinutes())}` };
}

test('a dealer schedules backups, restores one into a new VMID, and sees the run the schedule fired listed', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await signInAsAdmin(page, orchestrator);
  const api = (method, path, data) => apiRequest(page, orchestrator, method, path, data);

  const { projectId, instances } = await deploySite(page, orchestrator, 'Evans house', ['zwavejs']);
  t.diagnostic(`deployed at ${elapsed()}`);
  const guest = instances[0];

  // --- The schedule, set in the project's settings -------------------------------------------------------------
  await page.goto(`${orchestrator.url}/projects/${projectId}/edit`);
  const section = page.getByRole('region', { name: 'Guest backups' });
  await section.getByLabel("Back up this project's guests").check();
  const slot = nextSlot();
  await section.getByLabel('How often').selectOption('daily');
  await section.getByLabel('Time (HH:MM)').fill(slot.hhmm);
  await section.getByLabel('Backup storage').fill('local');
  await section.getByLabel('Backups to keep per guest').fill('2');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('heading', { level: 1, name: 'Evans house' }).waitFor({ timeout: 15_000 });
  const panel = page.getByRole('heading', { level: 2, name: 'Backups' }).locator('xpath=following-sibling::div[1]');
  await panel.getByText(new RegExp(`Backed up daily at ${slot.hhmm} \\([^)]+\\) onto local, keeping 2 per guest`)).waitFor({ timeout: 15_000 });
  const saved = (await api('GET', `/api/projects/${projectId}/backups`)).body;
  assert.equal(saved.schedule, `daily at ${slot.hhmm}`);
  assert.equal(new Date(saved.nextRunAt).getTime(), slot.at.getTime(), 'the next run is the slot just chosen');
  assert.ok(Date.now() < slot.at.getTime(), 'the schedule was saved before its slot');
  t.diagnostic(`schedule saved at ${elapsed()}, its slot ${((slot.at.getTime() - Date.now()) / 1000).toFixed(1)} s ahead`);

  // --- While the slot comes: "Back up now", and that backup restored into a new VMID -------------------------
  await panel.getByRole('button', { name: 'Back up now' }).click();
  const perGuest = panel.getByRole('list', { name: 'Last backup per guest' });
  await perGuest.getByText(/last backup/).waitFor({ timeout: 30_000 });
  const button = (await api('GET', `/api/projects/${projectId}/backups`)).body;
  assert.equal(button.runs[0].slot, null, 'the button run has no slot');
  assert.equal(button.runs[0].requestedBy, 'e2e-admin');
  const first = button.guests[0].lastBackup;
  assert.match(first.volid, new RegExp(`^local:backup/vzdump-lxc-${guest.vmid}-`));

  await perGuest.getByRole('button', { name: 'Restore as new guest' }).click();
  const dialog = page.getByRole('dialog', { name: `Restore ${guest.hostname} as a new guest?` });
  await dialog.getByRole('button', { name: 'Restore as new guest' }).click();
  await dialog.waitFor({ state: 'detached' });
  const restores = panel.getByRole('list', { name: 'Restores' });
  await restores.getByText(/^Restored .* into the new guest \d+/).waitFor({ timeout: 30_000 });
  const [restore] = (await api('GET', `/api/projects/${projectId}/backups`)).body.restores;
  assert.equal(restore.state, 'restored', restore.error ?? '');
  assert.equal(restore.volid, first.volid);
  assert.notEqual(restore.vmid, guest.vmid, 'a new VMID, the original left as it is');
  // The new guest is there on Proxmox, beside the original: its restore task (vzrestore, the new VMID) ended OK.
  const proxmox = (await api('GET', '/api/settings/proxmox')).body;
  const tasks = JSON.parse((await emulatorRequest(proxmox, 'GET', '/_sim/tasks')).body);
  const restoreTask = tasks.find((task) => task.type === 'vzrestore' && task.id === String(restore.vmid));
  assert.equal(restoreTask?.exitStatus, 'OK', JSON.stringify(restoreTask ?? tasks.map((task) => `${task.type}:${task.id}`)));
  t.diagnostic(`restored into ${restore.vmid} (original ${guest.vmid}) at ${elapsed()}`);
  await screenshot(page, 'backup-restored');

  // --- The scheduler's run at the slot, listed -----------------------------------------------------------------
  const runs = panel.getByRole('list', { name: 'Recent backup runs' });
  const scheduled = runs.getByText(/^Scheduled for /);
  await scheduled.waitFor({ timeout: slot.at.getTime() - Date.now() + 30_000 });
  const row = scheduled.locator('xpath=ancestor-or-self::li[1]');
  await waitUntil('the scheduled run to succeed', async () => (await row.getAttribute('data-run-state')) === 'succeeded', 30_000);
  const listed = (await api('GET', `/api/projects/${projectId}/backups`)).body;
  const run = listed.runs.find((r) => r.slot !== null);
  assert.equal(new Date(run.slot).getTime(), slot.at.getTime(), 'the run is the chosen slot');
  assert.equal(run.requestedBy, 'schedule');
  assert.equal(run.state, 'succeeded', run.error ?? '');
  assert.ok(new Date(run.startedAt).getTime() >= slot.at.getTime(), 'started at its slot, not before');
  const last = listed.guests.find((g) => g.instanceId === guest.id).lastBackup;
  assert.notEqual(last.volid, first.volid, 'the guest has a newer backup');
  assert.ok(new Date(last.createdAt).getTime() >= slot.at.getTime(), "the guest's last backup is the scheduled one");
  assert.equal(listed.guests[0].count, 2);
  assert.equal(listed.guests[0].missing, false);
  // The guest's card shows the same last backup.
  const lastOnCard = page.getByRole('article', { name: guest.hostname }).getByTestId('last-backup').locator('time');
  await waitUntil("the card's last backup", async () => (await lastOnCard.getAttribute('datetime')) === last.createdAt, 15_000);
  await screenshot(page, 'backup-scheduled');
  t.diagnostic(`scheduled run listed at ${elapsed()}`);

  assert.deepEqual(pageErrors, []);
  await page.close();
});
