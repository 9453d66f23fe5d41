// Access control end to end: a fresh orchestrator sends the browser to setup, the new admin signs in
// and reaches the dashboard, and signing out returns to the sign-in page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, readSetupCode, screenshot, startOrchestrator } from './harness.mjs';

let orchestrator;
let browser;

before(async () => {
  orchestrator = await startOrchestrator();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

test('fresh start → setup admin → sign in → dashboard; sign-out → sign-in page', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const cspViolations = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  await page.goto(`${orchestrator.url}/`);
  await page.getByRole('heading', { name: 'Set up Ctrlable Provisioner' }).waitFor({ timeout: 15_000 });
  assert.equal(new URL(page.url()).pathname, '/setup');
  await screenshot(page, 'access-setup');

  // The set-up code the orchestrator wrote into its data directory (and logged once, for the operator).
  const setupCode = readSetupCode(orchestrator);
  assert.match(setupCode, /^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$/);
  assert.match(orchestrator.logs(), new RegExp(`Set-up code: ${setupCode}`));
  await page.getByLabel('User name').fill('dealer');
  await page.getByLabel('Password', { exact: true }).fill('Site-visit-Passw0rd');
  await page.getByLabel('Repeat the password').fill('Site-visit-Passw0rd');
  await page.getByLabel('Set-up code').fill('AAAAA-BBBBB-CCCCC-DDDDD');
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await page.getByText('This is not the set-up code.', { exact: false }).waitFor();
  await page.getByLabel('Set-up code').fill(setupCode);
  await page.getByRole('button', { name: 'Create admin account' }).click();

  await page.getByText('The admin account is ready. Sign in with it.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/sign-in');
  await page.getByLabel('User name').fill('dealer');
  await page.getByLabel('Password').fill('Site-visit-Passw0rd');
  await page.getByRole('button', { name: 'Sign in' }).click();

  // The dashboard is the start page.
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  assert.match(await page.getByRole('banner').innerText(), /dealer/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'ctrlable.session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  await screenshot(page, 'access-signed-in');

  await page.getByRole('link', { name: 'Settings' }).click();
  const tls = await (await page.context().request.get(`${orchestrator.url}/api/tls`)).json();
  await page.getByTestId('tls-fingerprint').waitFor();
  assert.equal(await page.getByTestId('tls-fingerprint').innerText(), tls.sha256Fingerprint);
  // An admin sees which Proxmox host is in use: here the simulated one, and says so.
  assert.match(await page.getByTestId('proxmox-source').innerText(), /simulated Proxmox host/);
  await screenshot(page, 'access-settings');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/sign-in');
  await page.goto(`${orchestrator.url}/releases`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.deepEqual(cspViolations, []);
});
