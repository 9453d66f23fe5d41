// Building a release from the browser, for real: the Releases page checks the host and asks for the
// build, the orchestrator triggers host/ctrlable-build through a real sshd, the wrapper builds from a
// pinned fixture upstream with the pct/qm stand-ins acting on the Proxmox emulator, and the page
// follows it live. One template fails: the release is active with the other, the failed one is shown
// unavailable with its reason and, once fixed, rebuilt alone from its row.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * The confirmation checks the host first. A ctrlable-build that knows --check answers "ready" (or lists problems); an
 * older one refuses the check, and the dialog says so. Either way the operator may go on: with problems or no verdict
 * only by ticking "Build anyway", which is what a dealer would do here.
 */
async function passHostCheck(dialog, t) {
  const verdict = dialog.getByText(/The host is ready for this build|The host check found|The host could not be checked/);
  await verdict.first().waitFor({ timeout: 150_000 });
  if ((await dialog.getByText(/The host is ready for this build/).count()) === 0) {
    t.diagnostic(`host check: ${await dialog.innerText()}`);
    await dialog.getByRole('checkbox', { name: 'Build anyway: I have read why it may fail' }).check();
  }
}

/** The build the page follows now (its id is in the address: ?build=N). */
async function followedBuild(page, previous) {
  await page.waitForURL((url) => /^\d+$/.test(url.searchParams.get('build') ?? '') && url.searchParams.get('build') !== String(previous), {
    timeout: 15_000,
  });
  const id = Number(new URL(page.url()).searchParams.get('build'));
  const view = page.getByRole('region', { name: `Build ${id} · release ${release}`, exact: true });
  await view.waitFor({ timeout: 15_000 });
  return { id, view };
}

/** Waits for the build's own state badge (in the panel's header; each template has a badge of its own). */
async function waitForOutcome(view, outcome, t) {
  try {
    await view.locator('header').getByText(outcome, { exact: true }).waitFor({ timeout: 180_000 });
  } catch (error) {
    t.diagnostic(await view.innerText());
    t.diagnostic(orchestrator.logs());
    t.diagnostic(host.logs());
    throw error;
  }
}

test('an operator builds a release, sees the template that failed unavailable with its reason, and rebuilds it alone', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signInAsAdmin(page, orchestrator);
  await page.goto(`${orchestrator.url}/releases`);
  const escaped = release.replace('.', '\\.');

  const row = page.getByRole('row', { name: new RegExp(`^${escaped}`) });
  await row.waitFor({ timeout: 15_000 });
  assert.doesNotMatch(await row.innerText(), /Active/);

  await page.getByRole('button', { name: `Build release ${release}` }).click();
  const dialog = page.getByRole('dialog', { name: `Build release ${release}?` });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /runs community-scripts 2026-05-30 to create 2 templates/);
  await passHostCheck(dialog, t);
  await screenshot(page, 'build-confirm');
  await dialog.getByRole('button', { name: `Start build of ${release}` }).click();

  // Live progress: the build panel appears and a template shows a running step.
  const first = await followedBuild(page, null);
  await first.view.getByRole('log', { name: 'Build log' }).getByText(/\[zwavejs\]/).first().waitFor({ timeout: 60_000 });
  await screenshot(page, 'build-running');

  // zwavejs builds, broken fails: the release is active with what built, the failure is shown with its reason.
  await waitForOutcome(first.view, 'Failed', t);
  assert.match(
    await first.view.getByRole('status').first().innerText(),
    new RegExp(`1 of 2 templates built; they made release ${escaped} the active release`),
  );
  assert.equal(await first.view.getByRole('progressbar', { name: 'zwavejs progress' }).getAttribute('value'), '100');
  assert.match(await first.view.locator('[data-template="broken"]').innerText(), /ct\/broken\.sh failed with exit code 3/);
  await screenshot(page, 'build-partial');

  await row.getByText('Active, partly built').waitFor({ timeout: 15_000 });
  assert.match(await row.innerText(), /1 of 2 templates built/);
  await page.getByRole('button', { name: `Templates of ${release}` }).click();
  const templates = page.getByRole('table', { name: `Templates of ${release}` });
  await templates.waitFor();
  assert.match(await templates.getByRole('row', { name: /^zwavejs/ }).innerText(), /Built/);
  assert.match(await templates.getByRole('row', { name: /^zwavejs/ }).innerText(), /11\.4\.1/);
  const broken = templates.getByRole('row', { name: /^broken/ });
  assert.match(await broken.innerText(), /Unavailable/);
  assert.match(
    await broken.innerText(),
    new RegExp(`Cannot be deployed: build ${first.id} failed: ct/broken\\.sh failed with exit code 3 \\(see the log\\)`),
  );
  await screenshot(page, 'release-partly-built');

  // The fixture is fixed (the manifest names a builder that works), and only the failed template is rebuilt.
  writeFileSync(host.manifest, readFileSync(host.manifest, 'utf8').replace('builder: ct/broken.sh', 'builder: ct/zwave-js-ui.sh'));
  await broken.getByRole('button', { name: `Rebuild broken of ${release}` }).click();
  const rebuild = page.getByRole('dialog', { name: `Rebuild broken of release ${release}?` });
  await rebuild.waitFor();
  assert.match(await rebuild.innerText(), /to build broken only/);
  await passHostCheck(rebuild, t);
  await rebuild.getByRole('button', { name: 'Start rebuild of broken' }).click();

  const second = await followedBuild(page, first.id);
  await waitForOutcome(second.view, 'Succeeded', t);
  assert.match(await second.view.innerText(), /only broken/);
  assert.match(await second.view.getByRole('status').first().innerText(), new RegExp(`Built: broken\\. Release ${escaped} is the active release\\.`));
  assert.equal(await second.view.getByRole('progressbar', { name: 'zwavejs progress' }).count(), 0, 'zwavejs was not part of the rebuild');
  await screenshot(page, 'build-rebuilt');

  await row.getByText('Active', { exact: true }).waitFor({ timeout: 15_000 });
  await templates.getByRole('row', { name: /^broken/ }).getByText('Built', { exact: true }).waitFor({ timeout: 15_000 });
  const history = page.getByRole('region', { name: 'Build history' });
  assert.match(await history.innerText(), /Succeeded/);
  assert.match(await history.innerText(), /Failed/);
  await screenshot(page, 'build-history');

  // Nothing of upstream main was fetched: every helper came from the local pinned copy.
  const fetched = host.fetched();
  assert.ok(fetched.some((url) => url.endsWith('/misc/build.func')), fetched.join('\n'));
  assert.ok(!fetched.some((url) => url.startsWith('BLOCKED') || url.includes('/main/')), fetched.join('\n'));
});
