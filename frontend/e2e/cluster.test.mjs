// A two-node cluster in demo mode (CTRLABLE_SIMULATOR__NODES=pve,pve2; the templates on a shared storage of both): a
// project pinned to pve2 deploys there; a guest an admin migrates (the emulator's control) keeps its card, which shows
// the node it is on now, and its actions; a node taken off the network shows offline on the dashboard.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiRequest, emulatorRequest, launchBrowser, screenshot, signInAsAdmin, startOrchestrator, waitForActiveInstances, waitUntil } from './harness.mjs';

let orchestrator;
let browser;

before(async () => {
  orchestrator = await startOrchestrator({ SIMULATOR__NODES: 'pve,pve2', SIMULATOR__TIMINGSCALE: '0.1' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

test('a project pinned to pve2 deploys there, a migrated guest is followed, an offline node shows', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signInAsAdmin(page, orchestrator);
  const created = await apiRequest(page, orchestrator, 'POST', '/api/projects', {
    name: 'Cluster Site',
    settings: { zigbee: { host: '192.168.1.50' }, zwave: { host: '192.168.1.51', port: 3333 }, node: 'pve2' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const projectId = created.body.id;
  const deployed = await apiRequest(page, orchestrator, 'POST', `/api/projects/${projectId}/instances`, { type: 'zwavejs' });
  assert.equal(deployed.status, 202, JSON.stringify(deployed.body));
  const [instance] = await waitForActiveInstances(page, orchestrator, projectId, 1);
  assert.equal(instance.node, 'pve2', 'the pinned project deploys onto pve2');

  // An admin migrates the running container back to pve (a restart migration).
  const { body: settings } = await apiRequest(page, orchestrator, 'GET', '/api/settings/proxmox');
  const migrated = await emulatorRequest(settings, 'POST', `/_sim/guests/${instance.vmid}/migrate`, { target: 'pve' });
  assert.equal(migrated.status, 200, migrated.body);
  await waitUntil('the migration task to end', async () => {
    const tasks = JSON.parse((await emulatorRequest(settings, 'GET', '/_sim/tasks')).body);
    return tasks.some((t) => t.type === 'vzmigrate' && t.exitStatus === 'OK');
  });

  // Its actions work where it is now, and its card says so.
  const stopped = await apiRequest(page, orchestrator, 'POST', `/api/instances/${instance.id}/stop`);
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  const started = await apiRequest(page, orchestrator, 'POST', `/api/instances/${instance.id}/start`);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  const card = page.locator(`[data-instance="${instance.id}"]`);
  await card.waitFor({ timeout: 15_000 });
  await waitUntil('the card to show node pve', async () => /Node\s*pve(?!2)/.test(await card.innerText()), 15_000);
  const { body: project } = await apiRequest(page, orchestrator, 'GET', `/api/projects/${projectId}`);
  assert.equal(project.instances.length, 1, 'the guest was followed, not deployed again');
  assert.equal(project.instances[0].vmid, instance.vmid);

  // pve2 drops off the network: the dashboard shows it offline, pve still online.
  const offline = await emulatorRequest(settings, 'POST', '/_sim/nodes/pve2/offline');
  assert.equal(offline.status, 200, offline.body);
  await page.goto(`${orchestrator.url}/`);
  const pve2 = page.locator('article[data-node="pve2"]');
  await pve2.waitFor({ timeout: 15_000 });
  await waitUntil('pve2 shown offline', async () => /offline/i.test(await pve2.innerText()), 30_000);
  assert.match(await page.locator('article[data-node="pve"]').innerText(), /Online/);
  await screenshot(page, 'cluster-offline-node');
  await page.close();
});
