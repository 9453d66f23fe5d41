// Building a release from the browser, for real: the Releases page asks for the build, the
// orchestrator triggers host/ctrlable-build through a real sshd, the wrapper builds from a pinned
// fixture upstream with the pct/qm stand-ins acting on the Proxmox emulator, and the page follows it
// live until the release is the active one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { release, startBuildHost } from './build-host.mjs';
import { freePort, launchBrowser, screenshot, signInAsAdmin, startOrchestrator } from './harness.mjs';

let host;
let orchestrator;
let browser;

before(async () => {
  host = await startBuildHost();
  const httpsPort = await freePort();
  const httpsUrl = `https://127.0.0.1:${httpsPort}`;
  orchestrator = await startOrchestrator(host.settings, { extraUrls: [httpsUrl] });
  const tls = await (await fetch(`${orchestrator.url}/api/tls`)).json();
  host.configureWrapper(httpsUrl, tls.sha256Fingerprint, await freePort());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
  await host?.stop();
});

test('an operator builds a release from the Releases page and watches it become active', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signInAsAdmin(page, orchestrator);
  await page.goto(`${orchestrator.url}/releases`);

  const row = page.getByRole('row', { name: new RegExp(`^${release.replace('.', '\\.')}`) });
  await row.waitFor({ timeout: 15_000 });
  assert.doesNotMatch(await row.innerText(), /Active/);

  await page.getByRole('button', { name: `Build release ${release}` }).click();
  const dialog = page.getByRole('dialog', { name: `Build release ${release}?` });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /runs community-scripts 2026-05-30 to create 2 templates/);
  await screenshot(page, 'build-confirm');
  await dialog.getByRole('button', { name: `Start build of ${release}` }).click();

  // Live progress: the build panel appears and a template shows a running step.
  const view = page.getByRole('region', { name: new RegExp(`^Build \\d+ · release ${release.replace('.', '\\.')}$`) });
  await view.waitFor({ timeout: 15_000 });
  assert.match(page.url(), /\?build=\d+$/);
  await view.getByRole('log', { name: 'Build log' }).getByText(/\[zwavejs\]/).first().waitFor({ timeout: 60_000 });
  await screenshot(page, 'build-running');

  try {
    await view.getByText('Succeeded', { exact: true }).waitFor({ timeout: 180_000 });
  } catch (error) {
    t.diagnostic(await view.innerText());
    t.diagnostic(orchestrator.logs());
    t.diagnostic(host.logs());
    throw error;
  }
  assert.match(await view.getByRole('status').first().innerText(), new RegExp(`All 2 templates are built. Release ${release.replace('.', '\\.')} is the active release.`));
  for (const template of ['zwavejs', 'docker-portainer']) {
    const progress = view.getByRole('progressbar', { name: `${template} progress` });
    assert.equal(await progress.getAttribute('value'), '100');
  }
  await screenshot(page, 'build-succeeded');

  // The release is now the active one, its templates built on this host, and the build in the history.
  await row.getByText('Active').waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: `Templates of ${release}` }).click();
  const templates = page.getByRole('table', { name: `Templates of ${release}` });
  await templates.waitFor();
  assert.match(await templates.getByRole('row', { name: /^zwavejs/ }).innerText(), /Built/);
  assert.match(await templates.getByRole('row', { name: /^zwavejs/ }).innerText(), /v9\.27\.2/);
  const history = page.getByRole('region', { name: 'Build history' });
  assert.match(await history.innerText(), /Succeeded/);
  await screenshot(page, 'build-history');

  // Nothing of upstream main was fetched: every helper came from the local pinned copy.
  const fetched = host.fetched();
  assert.ok(fetched.some((url) => url.endsWith('/misc/build.func')), fetched.join('\n'));
  assert.ok(!fetched.some((url) => url.startsWith('BLOCKED') || url.includes('/main/')), fetched.join('\n'));
});
