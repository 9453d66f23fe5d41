// The foundation's end-to-end proof: the orchestrator serves the SPA, and the SPA lists the
// releases it reads from the API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, screenshot, signInAsAdmin, startOrchestrator } from './harness.mjs';

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

test('releases page lists the release manifests from the API', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signInAsAdmin(page, orchestrator);
  await page.goto(`${orchestrator.url}/releases`);

  const row = page.getByRole('row', { name: /2026\.06/ });
  await row.waitFor({ timeout: 15_000 });
  assert.match(await row.innerText(), /Valid/);
  assert.match(await row.innerText(), /2026-05-30/);
  await screenshot(page, 'releases');
});
