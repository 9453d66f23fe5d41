// Upgrading a project from one release to the next in the browser, against the orchestrator in demo mode: a site is
// deployed on release 2026.06; the orchestrator is stopped, release 2026.07 is added to its releases directory (a newer
// Z-Wave JS UI and Home Assistant OS) and it is started again on the same data directory, where demo mode records the
// newer release as built (no build in the demo, SPEC §7g). The cards offer the upgrade; Z-Wave JS UI's update routine
// is made to fail in the emulator; "Upgrade all" upgrades Home Assistant and rolls Z-Wave JS UI back to its snapshot,
// saying why; with the fault cleared, Z-Wave JS UI is upgraded from its card.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  apiRequest,
  deploySite,
  emulatorRequest,
  freePort,
  launchBrowser,
  repoRoot,
  screenshot,
  signInAsAdmin,
  startOrchestrator,
  waitUntil,
} from './harness.mjs';

const FROM = '2026.06';
const TO = '2026.07';
const ZWAVE_JS_UI = '11.20.0';
const FAILURE = 'E: Unable to fetch some archives, maybe run apt-get update';

let releasesDir;
let settings;
let extraUrls;
let orchestrator;
let browser;

before(async () => {
  releasesDir = mkdtempSync(join(tmpdir(), 'ctrlable-e2e-releases-'));
  copyFileSync(join(repoRoot, 'releases', `${FROM}.yaml`), join(releasesDir, `${FROM}.yaml`));
  // What stays the same across the restart, as on a real site: the guests' HTTPS URL (their follow.env names it, and
  // their upgrade run calls it) and the ports the simulated apps listen on (Home Assistant's URL is recorded at deploy).
  extraUrls = [`https://127.0.0.1:${await freePort()}`];
  settings = {
    STORAGE__RELEASESDIRECTORY: releasesDir,
    SIMULATOR__TIMINGSCALE: '0.1',
    HOMEASSISTANT__POLLINTERVALSECONDS: '0.3',
    HOMEASSISTANT__PORTS__0: await freePort(),
    HOMEASSISTANT__PORTS__1: await freePort(),
    DASHBOARD__APPPORTS__zwavejs: await freePort(),
    DASHBOARD__CACHESECONDS: '1',
    UPGRADES__POLLINTERVALSECONDS: '0.2',
    UPGRADES__HEALTHTIMEOUTSECONDS: '60',
    UPGRADES__GUESTTIMEOUTSECONDS: '120',
  };
  orchestrator = await startOrchestrator(settings, { extraUrls });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
  if (releasesDir) rmSync(releasesDir, { recursive: true, force: true });
});

const api = (page, method, path, data) => apiRequest(page, orchestrator, method, path, data);

/** Release 2026.07 as its author would publish it: 2026.06 with a newer Z-Wave JS UI and Home Assistant OS. */
function publishNextRelease() {
  const yaml = readFileSync(join(releasesDir, `${FROM}.yaml`), 'utf8')
    .replace(`release: "${FROM}"`, `release: "${TO}"`)
    .replace('app_version: "11.19.0"', `app_version: "${ZWAVE_JS_UI}"`)
    .replace('haos_version: "17.1"', 'haos_version: "17.2"')
    .replace(`ctrlable-base-${FROM}.tar`, `ctrlable-base-${TO}.tar`);
  assert.match(yaml, new RegExp(`release: "${TO.replace('.', '\\.')}"`));
  writeFileSync(join(releasesDir, `${TO}.yaml`), yaml);
}

/** The project's instances by type, through the API. */
async function instancesByType(page, projectId) {
  const { body } = await api(page, 'GET', `/api/projects/${projectId}`);
  return Object.fromEntries(body.instances.map((i) => [i.type, i]));
}

/** Waits until no instance of the project is upgrading or rolling back, and returns them by type. */
function waitForUpgradeEnd(page, projectId) {
  return waitUntil(
    'the upgrade to end',
    async () => {
      const byType = await instancesByType(page, projectId);
      return Object.values(byType).every((i) => i.state === 'active' || i.state === 'failed') ? byType : null;
    },
    150_000,
  );
}

test('a project is upgraded to the next release; the guest whose update fails is rolled back, and upgraded once fixed', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await signInAsAdmin(page, orchestrator);

  // --- A site deployed on 2026.06 (the deploy's own browser test is deploy.test.mjs) -------------------------------
  const { projectId, instances } = await deploySite(page, orchestrator, 'Baker house', ['ctrlable-pro', 'zwavejs']);
  for (const instance of instances) {
    assert.equal(instance.release, FROM);
    assert.equal(instance.upgrade, null, `${instance.hostname} runs the active release`);
  }
  const zwaveVmid = instances.find((i) => i.type === 'zwavejs').vmid;

  // --- Release 2026.07 arrives: added to the releases directory, the orchestrator restarted on its data ------------
  await orchestrator.stop({ keepData: true });
  publishNextRelease();
  orchestrator = await startOrchestrator(settings, { extraUrls, dataDir: orchestrator.dataDir });
  await signInAsAdmin(page, orchestrator);

  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  await page.getByRole('heading', { level: 1, name: 'Baker house' }).waitFor({ timeout: 15_000 });
  const zwaveCard = page.getByRole('article', { name: 'baker-house-zwavejs' });
  const haCard = page.getByRole('article', { name: 'baker-house-ctrlable-pro' });
  for (const card of [zwaveCard, haCard]) {
    const offer = card.locator('[data-upgrade]');
    await offer.waitFor({ timeout: 30_000 });
    assert.equal(await offer.getAttribute('data-upgrade'), 'possible', await offer.innerText());
    assert.match(await offer.innerText(), new RegExp(`Upgrade available \\(${FROM.replace('.', '\\.')} → ${TO.replace('.', '\\.')}\\)`));
  }
  await screenshot(page, 'upgrade-available');

  // --- Z-Wave JS UI's update routine fails in the emulator (its mirror is down) -------------------------------------
  const proxmox = (await api(page, 'GET', '/api/settings/proxmox')).body;
  const fault = await emulatorRequest(proxmox, 'PUT', `/_sim/guests/${zwaveVmid}/update-failure`, { message: FAILURE });
  assert.equal(fault.status, 200, fault.body);

  // --- Upgrade all, confirmed ---------------------------------------------------------------------------------------
  await page.getByRole('button', { name: `Upgrade all to ${TO}` }).click();
  const dialog = page.getByRole('dialog', { name: `Upgrade all guests to ${TO}?` });
  await dialog.waitFor();
  const listed = await dialog.getByRole('list', { name: 'Guests to upgrade' }).innerText();
  assert.match(listed, new RegExp(`baker-house-zwavejs: ${FROM} → ${TO}`));
  assert.match(listed, new RegExp(`baker-house-ctrlable-pro: ${FROM} → ${TO}`));
  assert.match(await dialog.innerText(), /rolled back\s+to its snapshot/);
  await screenshot(page, 'upgrade-confirm');
  await dialog.getByRole('button', { name: 'Upgrade 2 guests' }).click();
  await dialog.waitFor({ state: 'detached' });

  // The cards follow it live: both upgrade, then Z-Wave JS UI is rolled back and says why.
  await zwaveCard.getByText(/; rolled back$/).waitFor({ timeout: 150_000 });
  let after;
  try {
    after = await waitForUpgradeEnd(page, projectId);
  } catch (error) {
    t.diagnostic(orchestrator.logs());
    throw error;
  }
  assert.equal(after.zwavejs.state, 'active');
  assert.equal(after.zwavejs.release, FROM, 'the failed guest runs its old release');
  assert.match(after.zwavejs.message, new RegExp(`^Upgrade to ${TO.replace('.', '\\.')} failed: .*the guest's update failed.*; rolled back$`));
  assert.match(after.zwavejs.error, /Unable to fetch some archives/);
  assert.equal(after['ctrlable-pro'].state, 'active', after['ctrlable-pro'].error ?? '');
  assert.equal(after['ctrlable-pro'].release, TO, after['ctrlable-pro'].message ?? '');
  assert.equal(after['ctrlable-pro'].upgrade, null);

  assert.equal(await zwaveCard.getAttribute('data-state'), 'active');
  assert.match(await zwaveCard.innerText(), new RegExp(`Release\\s+${FROM.replace('.', '\\.')}`));
  await zwaveCard.getByText(/Details/).click();
  assert.match(await zwaveCard.innerText(), /Unable to fetch some archives/);
  // Still on offer: it can be tried again.
  // The card's offer comes with the project's next read after the rollback (its state came first, live): wait for it.
  await zwaveCard.locator('[data-upgrade="possible"]').waitFor({ timeout: 15_000 });
  await haCard.locator('[data-upgrade]').waitFor({ state: 'detached', timeout: 15_000 });
  assert.match(await haCard.innerText(), new RegExp(`Release\\s+${TO.replace('.', '\\.')}`));
  await screenshot(page, 'upgrade-rolled-back');

  // --- The fault cleared, Z-Wave JS UI is upgraded from its card ------------------------------------------------------
  const cleared = await emulatorRequest(proxmox, 'DELETE', `/_sim/guests/${zwaveVmid}/update-failure`);
  assert.equal(cleared.status, 200, cleared.body);
  await zwaveCard.getByRole('button', { name: 'Upgrade baker-house-zwavejs' }).click();
  const single = page.getByRole('dialog', { name: `Upgrade baker-house-zwavejs to ${TO}?` });
  await single.waitFor();
  await single.getByRole('button', { name: 'Upgrade', exact: true }).click();
  await single.waitFor({ state: 'detached' });

  const retried = await waitUntil(
    'Z-Wave JS UI upgraded',
    async () => {
      const { zwavejs } = await instancesByType(page, projectId);
      if (zwavejs.state === 'failed') throw new Error(`baker-house-zwavejs failed: ${zwavejs.error}`);
      return zwavejs.state === 'active' && zwavejs.release === TO ? zwavejs : null;
    },
    150_000,
  );
  assert.equal(retried.error, null);
  assert.equal(retried.installedVersions['zwave-js-ui'], ZWAVE_JS_UI);
  await zwaveCard.locator('[data-upgrade]').waitFor({ state: 'detached', timeout: 15_000 });
  await zwaveCard.getByText(new RegExp(`^${TO.replace('.', '\\.')}$`)).waitFor({ timeout: 15_000 });
  assert.doesNotMatch(await zwaveCard.innerText(), /rolled back/);
  assert.equal(await page.getByRole('button', { name: /^Upgrade all/ }).count(), 0, 'nothing is left to upgrade');
  await screenshot(page, 'upgrade-done');

  assert.deepEqual(pageErrors, []);
  await page.close();
});
