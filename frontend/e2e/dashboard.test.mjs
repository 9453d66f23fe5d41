// The dashboard against the orchestrator in demo mode (no Proxmox configured: the in-process
// Proxmox emulator): the simulated-host banner, a node card with its CPU and memory gauges, the
// active release's templates, and screenshots at 1280×800 and at tablet size (1024×768).
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

test('dashboard shows the simulated host, node gauges and the templates list', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signInAsAdmin(page, orchestrator);
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
