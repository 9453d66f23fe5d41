// The dashboard against the orchestrator in demo mode (no Proxmox configured: the in-process
// Proxmox emulator): the simulated-host banner, a node card with its CPU and memory gauges, the
// active release's templates, and screenshots at 1280×800 and at tablet size (1024×768).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, screenshot, startOrchestrator } from './harness.mjs';

let orchestrator;
let browser;
/** Why the demo host cannot serve a dashboard yet (see below), or undefined when it can. */
let demoPlaceholder;

/**
 * Until demo mode's emulator lands, the simulated host is a placeholder that points at
 * https://127.0.0.1:1/ and every /api/dashboard answers 503 "… (127.0.0.1:1)". Only that exact
 * case skips this test (visibly); any other 503 from a real demo host fails it.
 * TODO: remove this guard once demo mode serves a dashboard.
 */
async function probeDemoHost(url) {
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/api/dashboard`);
    if (response.ok) return undefined;
    last = await response.text();
    if (response.status === 503 && /127\.0\.0\.1:1\b/.test(last)) {
      return `demo mode's simulated Proxmox host is still the placeholder (${last})`;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return undefined; // let the test fail with what the page shows
}

before(async () => {
  orchestrator = await startOrchestrator();
  browser = await launchBrowser();
  demoPlaceholder = await probeDemoHost(orchestrator.url);
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

test('dashboard shows the simulated host, node gauges and the templates list', async (t) => {
  if (demoPlaceholder) {
    t.skip(demoPlaceholder);
    return;
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${orchestrator.url}/`);

  const banner = page.getByRole('note', { name: 'Simulated host' });
  await banner.waitFor({ timeout: 15_000 });
  assert.match(await banner.innerText(), /Simulated Proxmox host — nothing here touches real hardware/);
  assert.match(await page.getByTestId('updated-indicator').innerText(), /Updated|Data from/);

  const node = page.locator('article[data-node]').first();
  await node.waitFor();
  assert.match(await node.innerText(), /Online|Offline/);
  const cpu = node.getByRole('meter', { name: 'CPU', exact: true });
  assert.match(await cpu.innerText(), /(<1|\d+)%/);
  const memory = node.getByRole('meter', { name: 'Memory', exact: true });
  assert.match(await memory.innerText(), /\d[\d.,]* \/ \d[\d.,]* (GiB|MiB)/);

  const templates = page.getByRole('region', { name: /^Templates of release / });
  try {
    await templates.waitFor({ timeout: 5_000 });
  } catch {
    const shown = await page.getByRole('region', { name: /^(Templates|No release built yet)$/ }).innerText();
    assert.fail(`no templates list (has demo mode an active release?); the page shows: ${shown}`);
  }
  const rows = templates.locator('tbody tr');
  assert.ok((await rows.count()) >= 1, 'the templates list has no rows');
  assert.match(await rows.first().innerText(), /\b\d{3,}\b[\s\S]*\b(Present|Missing)\b/);

  // The history chart is drawn on a canvas once uPlot has loaded; wait so the screenshot has it.
  await node.locator('canvas').first().waitFor({ timeout: 10_000 });
  await screenshot(page, 'dashboard');

  await page.setViewportSize({ width: 1024, height: 768 });
  await page.waitForTimeout(300); // the chart follows its container's new width
  await screenshot(page, 'dashboard-tablet');
  await page.close();
});
