// Issue #17 end to end, against the orchestrator in demo mode: an admin stores the release's Home Assistant base
// backup on the Releases page (a real Supervisor backup, written by the emulators' own builder; refused ones list
// every missing piece), then creates a project with a static address plan in the form's Addresses section and
// deploys it. Each guest gets its own address from the plan's block, Home Assistant gets its host name and address
// through Supervisor, and the backup it restored is the one uploaded.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  apiRequest,
  e2eAdmin,
  emulatorRequest,
  launchBrowser,
  repoRoot,
  screenshot,
  signInAsAdmin,
  startOrchestrator,
  waitForActiveInstances,
  writeBaseBackup,
} from './harness.mjs';

const RELEASE = '2026.06';
// An older release beside it that pins no SHA-256, so a refused file is opened and every missing piece listed.
const UNPINNED = '2026.05';
const OWNER = 'dealer-base';
const OWNER_PASSWORD = 'Base-Owner-Passw0rd-17';
// The static plan: loopback addresses the emulated guests can listen on (the DHCP stand-in hands out 127.0.10.x).
const PLAN = { network: '127.0.60.0/24', range: '127.0.60.32/28', gateway: '127.0.60.1', dns: '127.0.60.1' };
const COMPONENTS = ['ctrlable-pro', 'zwavejs', 'zigbee2mqtt'];

let dir;
let base;
let lacking;
let orchestrator;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ctrlable-e2e-base-'));
  base = writeBaseBackup(join(dir, 'ctrlable-base.tar'), OWNER_PASSWORD, { admin: OWNER, name: 'Dealer base 2026.06' });
  lacking = writeBaseBackup(join(dir, 'lacking.tar'), 'Other-Passw0rd-17', { name: 'Lacking base', without: ['mosquitto', 'frigate'] });

  // The shipped manifest pins no base backup: here its ctrlable-pro template pins the file above (base_backup_sha256),
  // as a release author does with `sha256sum` (SPEC §7d "Making a base backup", step 6).
  const releases = join(dir, 'releases');
  const shipped = readFileSync(join(repoRoot, 'releases', `${RELEASE}.yaml`), 'utf8');
  const pinned = shipped.replace(/^(\s+)base_backup: ".*"$/m, (line, indent) => `${line}\n${indent}base_backup_sha256: "${base.sha256}"`);
  assert.notEqual(pinned, shipped, 'the manifest names a base_backup to pin');
  mkdirSync(releases);
  writeFileSync(join(releases, `${RELEASE}.yaml`), pinned);
  writeFileSync(join(releases, `${UNPINNED}.yaml`), shipped.replace(`release: "${RELEASE}"`, `release: "${UNPINNED}"`));

  orchestrator = await startOrchestrator({
    STORAGE__RELEASESDIRECTORY: releases,
    SIMULATOR__TIMINGSCALE: '0.1',
    HOMEASSISTANT__POLLINTERVALSECONDS: '0.3',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** IPv4 dotted → number, to check an address lies in a CIDR block. */
const toNumber = (address) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
function inBlock(address, cidr) {
  const [network, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = toNumber(network);
  return toNumber(address) >= start && toNumber(address) < start + size;
}

test('an admin stores the base backup on the Releases page, then a static-plan deploy gives every guest its own address and restores that backup', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await signInAsAdmin(page, orchestrator);
  const api = (method, path, data) => apiRequest(page, orchestrator, method, path, data);

  // --- Releases: the demo's generated backup is stored, but it is not the file the manifest pins ------------------
  await page.goto(`${orchestrator.url}/releases`);
  await page.getByRole('button', { name: `Templates of ${RELEASE}` }).click();
  const upload = page.getByRole('form', { name: `Upload the base backup of ${RELEASE}` });
  await upload.waitFor({ timeout: 15_000 });
  const panel = page.locator('section').filter({ has: upload });
  const stored = panel.getByTestId('base-backup-state');
  assert.match(await stored.innerText(), /Stored[\s\S]*owner ctrlable[\s\S]*the manifest now pins another file/);

  /** Picks the file and the owner's password in `form` and sends it. */
  async function send(form, file, password) {
    await form.getByLabel('Backup file').setInputFiles(file);
    await form.getByLabel("Owner's password").fill(password);
    await form.getByRole('button', { name: /(Upload|Replace) base backup/ }).click();
  }

  // Another file than the one pinned: refused before it is opened, the stored backup unchanged.
  await send(upload, lacking.file, 'Other-Passw0rd-17');
  const wrongFile = upload.getByRole('alert');
  await wrongFile.waitFor({ timeout: 15_000 });
  assert.match(await wrongFile.innerText(), /The base backup was not stored: Not the release's base backup\./);
  assert.match(await wrongFile.innerText(), new RegExp(`The file has SHA-256 ${lacking.sha256}; the manifest of release ${RELEASE} expects ${base.sha256}`));
  assert.match(await stored.innerText(), /owner ctrlable/);

  // A release that pins none opens the file and lists every piece it lacks, in one answer.
  await page.getByRole('button', { name: `Templates of ${UNPINNED}` }).click();
  const unpinned = page.getByRole('form', { name: `Upload the base backup of ${UNPINNED}` });
  await send(unpinned, lacking.file, 'not-the-owner-password');
  const incomplete = unpinned.getByRole('alert');
  await incomplete.waitFor({ timeout: 15_000 });
  assert.match(await incomplete.innerText(), /The base backup was not stored: The base backup lacks what the deploy needs\./);
  const missing = await incomplete.getByRole('listitem').allInnerTexts();
  assert.equal(missing.length, 3, missing.join('\n'));
  assert.match(missing.join('\n'), /is not the password of Home Assistant's owner 'ctrlable'/);
  assert.match(missing.join('\n'), /does not include the Mosquitto broker add-on \(core_mosquitto\)/);
  assert.match(missing.join('\n'), /the backup has no Frigate integration/);
  await screenshot(page, 'base-backup-refused');

  // The pinned file with its owner's password: stored, and the page says so.
  await send(upload, base.file, OWNER_PASSWORD);
  await upload.getByRole('status').filter({ hasText: 'Base backup stored.' }).waitFor({ timeout: 15_000 });
  assert.equal(await upload.getByRole('alert').count(), 0);
  await stored.getByText(`owner ${OWNER}`, { exact: false }).waitFor();
  const storedText = await stored.innerText();
  assert.match(storedText, new RegExp(`SHA-256 ${base.sha256} \\(the one the manifest pins\\)`));
  assert.match(storedText, new RegExp(`by ${e2eAdmin.username}`));
  await screenshot(page, 'base-backup-stored');
  const detail = (await api('GET', `/api/releases/${RELEASE}`)).body.baseBackup;
  assert.equal(detail.stored.sha256, base.sha256);
  assert.equal(detail.matchesManifest, true);

  // --- A project with a static address plan, through the form ----------------------------------------------------
  await page.goto(`${orchestrator.url}/projects/new`);
  const form = page.getByRole('form', { name: 'New project' });
  await form.waitFor({ timeout: 15_000 });
  await form.getByLabel('Project name').fill('Static site');
  await form.getByLabel('Coordinator host').fill('192.168.1.50');
  await form.getByLabel('ser2net host').fill('192.168.1.51');
  await form.getByRole('radio', { name: /^Static addresses/ }).check();
  await form.getByLabel('Network (CIDR)').fill(PLAN.network);
  await form.getByLabel('Address block for guests').fill(PLAN.range);
  await form.getByLabel('Gateway').fill(PLAN.gateway);
  await form.getByLabel('DNS servers').fill(PLAN.dns);
  await screenshot(page, 'project-form-static-plan');
  await form.getByRole('button', { name: 'Create project' }).click();

  await page.getByRole('heading', { level: 1, name: 'Static site' }).waitFor({ timeout: 15_000 });
  const projectId = Number(/\/projects\/(\d+)$/.exec(page.url())?.[1]);
  assert.ok(
    (await page.getByText(/^Static from/).innerText()).includes(`Static from ${PLAN.range} · gateway ${PLAN.gateway} · DNS ${PLAN.dns}`),
    'the settings summary shows the plan',
  );

  // --- Deploy it in the simulated host -----------------------------------------------------------------------------
  await page.getByRole('link', { name: 'Deploy components' }).click();
  await page.getByRole('heading', { name: 'Choose components', level: 2 }).waitFor({ timeout: 15_000 });
  const checkboxes = page.getByRole('checkbox');
  for (let i = 0; i < (await checkboxes.count()); i += 1) {
    const box = checkboxes.nth(i);
    if (await box.isDisabled()) continue;
    const type = (await box.getAttribute('id'))?.replace(/^component-/, '');
    if (COMPONENTS.includes(type)) await box.check();
    else await box.uncheck();
  }
  await page.getByRole('button', { name: 'Next: review' }).click();
  await page.getByRole('button', { name: `Deploy ${COMPONENTS.length} components` }).click();
  await page.waitForURL(/\/deploys\/\d+$/);

  // Green: every guest active (a failure stops the wait with its error).
  const instances = await waitForActiveInstances(page, orchestrator, projectId, COMPONENTS.length);
  for (const instance of instances) {
    await page.locator(`article[data-instance="${instance.id}"][data-state="active"]`).waitFor({ timeout: 15_000 });
  }
  assert.match(await page.getByRole('list', { name: 'Steps of static-site-ctrlable-pro' }).innerText(), /Restore the base backup/);
  await screenshot(page, 'static-plan-deployed');

  // --- Each guest's address, as the project page shows it: from the block, one each ------------------------------
  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  const shown = {};
  for (const type of COMPONENTS) {
    const card = page.getByRole('article', { name: `static-site-${type}` });
    const ip = card.locator('div:has(> dt:text-is("IP")) > dd');
    await ip.filter({ hasText: /^\d+\.\d+\.\d+\.\d+$/ }).waitFor({ timeout: 30_000 });
    shown[type] = (await ip.innerText()).trim();
    assert.ok(inBlock(shown[type], PLAN.range), `${type} at ${shown[type]} is inside ${PLAN.range}`);
    assert.notEqual(shown[type], PLAN.gateway);
  }
  assert.equal(new Set(Object.values(shown)).size, COMPONENTS.length, `one address each: ${JSON.stringify(shown)}`);
  const byType = Object.fromEntries(instances.map((i) => [i.type, i]));
  const current = (await api('GET', `/api/projects/${projectId}`)).body.instances;
  for (const instance of current) assert.equal(instance.ip, shown[instance.type], 'the page shows what the API says');
  const haLink = page.getByRole('article', { name: 'static-site-ctrlable-pro' }).getByRole('link', { name: /Open Home Assistant/ });
  assert.equal(new URL(await haLink.getAttribute('href')).hostname, shown['ctrlable-pro'], 'Home Assistant is reached at its static address');
  await screenshot(page, 'static-plan-project');

  // --- Home Assistant itself (the emulator's view of Supervisor and the restore) -----------------------------------
  const proxmox = (await api('GET', '/api/settings/proxmox')).body;
  assert.equal(proxmox.source, 'simulated');
  const answer = await emulatorRequest(proxmox, 'GET', `/_sim/guests/${byType['ctrlable-pro'].vmid}/homeassistant`);
  assert.equal(answer.status, 200, answer.body);
  const ha = JSON.parse(answer.body);
  assert.equal(ha.hostname, 'static-site-ctrlable-pro', "Supervisor's host name is the instance's");
  assert.equal(ha.address, shown['ctrlable-pro']);
  assert.deepEqual(ha.ipv4, { method: 'static', address: [`${shown['ctrlable-pro']}/24`], gateway: PLAN.gateway, nameservers: [PLAN.dns] });
  assert.equal(ha.restoredBackupId, base.slug, 'Home Assistant restored the uploaded backup');
  assert.equal(ha.owner, OWNER, "the uploaded backup's owner is Home Assistant's owner");

  assert.deepEqual(pageErrors, []);
  await page.close();
});
