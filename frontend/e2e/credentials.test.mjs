// Credentials hand-over and app health end to end, against the orchestrator in demo mode: a deployed
// site's Credentials as the admin (reveal with the password, the hand-over sheet in print preview) and
// as a viewer (refused); then an app stopped inside its running guest in the emulator, and the cards
// saying so.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  apiRequest,
  deploySite,
  e2eAdmin,
  emulatorRequest as emulator,
  launchBrowser,
  screenshot,
  signIn,
  signInAsAdmin,
  startOrchestrator,
} from './harness.mjs';

let orchestrator;
let browser;

before(async () => {
  orchestrator = await startOrchestrator({
    SIMULATOR__TIMINGSCALE: '0.1',
    HOMEASSISTANT__POLLINTERVALSECONDS: '0.3',
    DASHBOARD__CACHESECONDS: '1',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

const api = (page, method, path, data) => apiRequest(page, orchestrator, method, path, data);

test('an admin reveals and prints the site credentials, a viewer is refused, and a stopped app shows as down', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await signInAsAdmin(page, orchestrator);

  // --- A deployed site: Home Assistant (restored, secured, wired) and Z-Wave JS UI --------------
  const { projectId, instances } = await deploySite(page, orchestrator, 'Jones house', ['ctrlable-pro', 'zwavejs']);
  const zwave = instances.find((i) => i.type === 'zwavejs');

  // --- Credentials as the admin: listed without values, revealed with the password ---------------
  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  await page.getByRole('link', { name: 'Credentials' }).click();
  await page.getByRole('heading', { level: 1, name: 'Credentials of Jones house' }).waitFor({ timeout: 15_000 });
  const haTable = page.getByRole('table', { name: 'Secrets of jones-house-ctrlable-pro' });
  const ownerRow = haTable.getByRole('row', { name: /Home Assistant owner password/ });
  await ownerRow.waitFor();
  assert.match(await ownerRow.innerText(), /••••••••/);
  assert.match(
    await page.getByRole('table', { name: 'Secrets of jones-house-zwavejs' }).innerText(),
    /Z-Wave S2 Authenticated key[\s\S]*Not rotatable/,
  );
  await screenshot(page, 'credentials');

  await ownerRow.getByRole('button', { name: /^Reveal the Home Assistant owner password/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm with your password' });
  await dialog.getByLabel('Your password').fill('not-the-Passw0rd');
  await dialog.getByRole('button', { name: 'Reveal' }).click();
  await dialog.getByText('That is not your password. Nothing was revealed.').waitFor();
  await dialog.getByLabel('Your password').fill(e2eAdmin.password);
  await dialog.getByRole('button', { name: 'Reveal' }).click();
  await dialog.waitFor({ state: 'detached' });
  const ownerValue = await ownerRow.getByLabel(/^Value of the Home Assistant owner password/).innerText();
  assert.match(ownerValue, /^[A-Za-z0-9]{32}$/);

  // The audit log has the reveal (who, which secret) and the refusal, never the value.
  const audit = await api(page, 'GET', '/api/audit?pageSize=50');
  const reveals = audit.body.items.filter((e) => e.route.endsWith('/reveal'));
  assert.ok(reveals.some((e) => e.statusCode === 403 && e.actorName === e2eAdmin.username));
  assert.ok(reveals.some((e) => e.statusCode === 200 && /Home Assistant owner password of jones-house-ctrlable-pro/.test(e.target)));
  assert.ok(!JSON.stringify(audit.body).includes(ownerValue), 'no value in the audit log');

  // --- The hand-over sheet, in print preview: the sheet alone ------------------------------------
  await page.getByRole('checkbox', { name: /Include the Home Assistant owner password/ }).check();
  await page.getByRole('checkbox', { name: 'Include the MQTT password on the hand-over sheet' }).check();
  await page.getByRole('button', { name: 'Prepare the sheet' }).click();
  await dialog.getByLabel('Your password').fill(e2eAdmin.password);
  await dialog.getByRole('button', { name: 'Prepare the sheet' }).click();
  const sheet = page.getByRole('article', { name: 'Hand-over sheet' });
  await sheet.waitFor();
  const sheetText = await sheet.innerText();
  assert.match(sheetText, /Jones house/);
  assert.match(sheetText, /Home Assistant — jones-house-ctrlable-pro[\s\S]*http:\/\/127\.\d+\.\d+\.\d+:\d+\//);
  assert.ok(sheetText.includes(ownerValue), 'the ticked owner password is on the sheet');
  assert.match(sheetText, /Z-Wave JS UI — jones-house-zwavejs[\s\S]*secret not included/);

  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false, 'no navigation on paper');
  assert.equal(await page.getByRole('button', { name: 'Prepare the sheet' }).isVisible(), false, 'no buttons on paper');
  assert.equal(await page.getByRole('table', { name: 'Secrets of jones-house-ctrlable-pro' }).isVisible(), false);
  assert.equal(await sheet.isVisible(), true);
  const sheetBox = await sheet.boundingBox();
  assert.ok(sheetBox && sheetBox.x < 40 && sheetBox.y < 40, `the sheet starts at the top left of the page (${JSON.stringify(sheetBox)})`);
  await screenshot(page, 'credentials-print-preview');
  await page.emulateMedia({ media: 'screen' });

  // --- A viewer is refused, in the SPA and by the API ---------------------------------------------
  const viewer = { username: 'office-viewer', password: 'Viewer-Passw0rd-2026', role: 'viewer' };
  assert.equal((await api(page, 'POST', '/api/users', viewer)).status, 201);
  const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const viewerPage = await viewerContext.newPage();
  await signIn(viewerPage, orchestrator, viewer);
  await viewerPage.goto(`${orchestrator.url}/projects/${projectId}`);
  await viewerPage.getByRole('heading', { level: 1, name: 'Jones house' }).waitFor({ timeout: 15_000 });
  assert.equal(await viewerPage.getByRole('link', { name: 'Credentials' }).count(), 0);
  await viewerPage.goto(`${orchestrator.url}/projects/${projectId}/credentials`);
  await viewerPage.getByRole('heading', { name: 'Credentials are for admins' }).waitFor();
  const refused = await viewerContext.request.get(`${orchestrator.url}/api/projects/${projectId}/credentials`);
  assert.equal(refused.status(), 403);
  assert.equal(refused.headers()['content-type'], 'application/problem+json');
  await screenshot(viewerPage, 'credentials-viewer');
  await viewerContext.close();

  // --- App health: the Z-Wave JS UI app stops inside its running guest ----------------------------
  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  const card = page.getByRole('article', { name: 'jones-house-zwavejs' });
  await card.getByText(/^App up since/).waitFor({ timeout: 30_000 });
  const proxmox = (await api(page, 'GET', '/api/settings/proxmox')).body;
  assert.equal(proxmox.source, 'simulated');
  const stopped = await emulator(proxmox, 'POST', `/_sim/guests/${zwave.vmid}/app/stop`);
  assert.equal(stopped.status, 200, stopped.body);
  await card.getByText(/^App down since/).waitFor({ timeout: 30_000 });
  assert.match(await card.innerText(), /Active/);
  await screenshot(page, 'app-down-project');

  await page.goto(`${orchestrator.url}/`);
  const dashboardCard = page.getByRole('article', { name: 'jones-house-zwavejs' });
  await dashboardCard.getByText(/^App down since/).waitFor({ timeout: 30_000 });
  assert.match(await dashboardCard.innerText(), /Running/);
  await screenshot(page, 'app-down-dashboard');

  assert.equal((await emulator(proxmox, 'POST', `/_sim/guests/${zwave.vmid}/app/start`)).status, 200);
  await dashboardCard.getByText(/^App up since/).waitFor({ timeout: 30_000 });

  assert.deepEqual(pageErrors, []);
  await page.close();
});
