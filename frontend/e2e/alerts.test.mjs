// Alerts in the browser, against the orchestrator in demo mode (SPEC §8g): a webhook sink (node's http on 127.0.0.1)
// is added as a notification target in Settings and "Send test" reaches it; a deploy is made to fail in the Proxmox
// emulator (every task ends "TASK ERROR: …", as a Proxmox task whose command failed: PUT /_sim/faults); the sink gets
// the deploy-failed alert's JSON once; with the fault cleared, "Retry" on the card deploys the guest and the sink gets
// the incident's "resolved" message.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { apiRequest, emulatorRequest, launchBrowser, screenshot, signInAsAdmin, startOrchestrator, waitUntil } from './harness.mjs';

/** Why a clone fails on a real host whose volume group is full (Proxmox ends the task "TASK ERROR: clone failed: <this>"). */
const TASK_ERROR = 'lvcreate \'pve/vm-1000-disk-0\' error: Volume group "pve" has insufficient free space (2 extents): 1024 required.';

let orchestrator;
let browser;
let sink;
/** Every request the sink got: { path, headers, body (parsed JSON) }. */
const received = [];

before(async () => {
  sink = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      received.push({ method: req.method, path: req.url, headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  orchestrator = await startOrchestrator({
    SIMULATOR__TIMINGSCALE: '0.1',
    HOMEASSISTANT__POLLINTERVALSECONDS: '0.3',
    ALERTS__SITENAME: 'e2e-site',
    ALERTS__POLLINTERVAL: '00:00:01',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
  await new Promise((resolve) => (sink ? sink.close(resolve) : resolve()));
});

const events = (event, state) => received.filter((r) => r.body.event === event && (state === undefined || r.body.state === state));

test('a webhook target added in Settings gets its test, the failed deploy and its resolution', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await signInAsAdmin(page, orchestrator);
  const api = (method, path, data) => apiRequest(page, orchestrator, method, path, data);
  const hookUrl = `http://127.0.0.1:${sink.address().port}/hooks/ctrlable`;

  // --- The target, added and tested in Settings ---------------------------------------------------------------
  await page.goto(`${orchestrator.url}/settings/alerts`);
  await page.getByRole('button', { name: 'Add a target' }).click();
  const form = page.getByRole('form', { name: 'New notification target' });
  await form.getByLabel('Name', { exact: true }).fill('Dealer hook');
  await form.getByLabel('Kind', { exact: true }).selectOption('webhook');
  await form.getByLabel('URL', { exact: true }).fill(hookUrl);
  await form.getByRole('button', { name: 'Add target' }).click();
  await form.waitFor({ state: 'detached' });
  const row = page.getByTestId('alert-targets').getByRole('listitem').filter({ hasText: 'Dealer hook' });
  await row.getByText(hookUrl).waitFor();
  await row.getByRole('button', { name: 'Send test' }).click();
  await row.getByTestId('alert-test-result').getByText('Delivered').waitFor({ timeout: 15_000 });
  assert.equal(events('test').length, 1);
  const testMessage = events('test')[0];
  assert.equal(testMessage.method, 'POST');
  assert.equal(testMessage.path, '/hooks/ctrlable');
  assert.match(testMessage.headers['content-type'], /^application\/json/);
  assert.equal(testMessage.body.site, 'e2e-site');
  assert.match(testMessage.body.detail, /Sent by e2e-admin with "Send test" to the target 'Dealer hook'/);
  await screenshot(page, 'alerts-target-tested');

  // --- A deploy whose Proxmox tasks fail ------------------------------------------------------------------------
  const proxmox = (await api('GET', '/api/settings/proxmox')).body;
  const fault = await emulatorRequest(proxmox, 'PUT', '/_sim/faults', { taskFailureRate: 1, taskFailureMessage: TASK_ERROR });
  assert.equal(fault.status, 200, fault.body);
  const created = await api('POST', '/api/projects', {
    name: 'Frank house',
    settings: { zigbee: { host: '192.168.1.50' }, zwave: { host: '192.168.1.51', port: 3333 } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const projectId = created.body.id;
  const deployed = await api('POST', `/api/projects/${projectId}/deploy`, { types: ['zwavejs'] });
  assert.equal(deployed.status, 202, JSON.stringify(deployed.body));

  const failed = await waitUntil('the deploy to fail', async () => {
    const [instance] = (await api('GET', `/api/projects/${projectId}`)).body.instances;
    if (instance?.state === 'active') throw new Error('the deploy succeeded despite the fault');
    return instance?.state === 'failed' ? instance : null;
  });
  t.diagnostic(`failed: ${failed.message}: ${failed.error}`);
  assert.match(failed.error, /insufficient free space/, 'the instance says what Proxmox said');

  const [open] = await waitUntil('the deploy-failed alert at the sink', async () => (events('deploy-failed', 'open').length > 0 ? events('deploy-failed', 'open') : null), 30_000);
  assert.equal(open.body.severity, 'critical');
  assert.equal(open.body.subject, `instance/${failed.id}`);
  assert.equal(open.body.title, `Deploy of ${failed.hostname} failed`);
  assert.match(open.body.detail, /insufficient free space/);
  assert.deepEqual(open.body.project, { id: projectId, name: 'Frank house' });
  assert.deepEqual(open.body.instance, { id: failed.id, hostname: failed.hostname });
  assert.equal(open.body.site, 'e2e-site');
  assert.ok(!Number.isNaN(Date.parse(open.body.at)));

  // The incident is listed in Settings, open.
  await page.goto(`${orchestrator.url}/settings/alerts`);
  await page.getByText(`Deploy of ${failed.hostname} failed`).waitFor({ timeout: 15_000 });

  // --- Fixed on the host, retried from the card: the incident resolves -----------------------------------------
  const cleared = await emulatorRequest(proxmox, 'PUT', '/_sim/faults', {});
  assert.equal(cleared.status, 200, cleared.body);
  await page.goto(`${orchestrator.url}/projects/${projectId}`);
  const card = page.getByRole('article', { name: failed.hostname });
  await card.getByRole('button', { name: 'Retry' }).click();
  await waitUntil('the retried deploy to finish', async () => {
    const [instance] = (await api('GET', `/api/projects/${projectId}`)).body.instances;
    if (instance.state === 'failed' && instance.error !== failed.error) throw new Error(`the retry failed: ${instance.error}`);
    return instance.state === 'active';
  });
  const [resolved] = await waitUntil('the resolved message at the sink', async () => (events('deploy-failed', 'resolved').length > 0 ? events('deploy-failed', 'resolved') : null), 30_000);
  assert.equal(resolved.body.subject, open.body.subject);
  assert.match(resolved.body.detail, new RegExp(`${failed.hostname} is active`));
  await screenshot(page, 'alerts-resolved');

  // One notification per incident: the failure was sent once, its resolution once.
  assert.equal(events('deploy-failed', 'open').length, 1);
  assert.equal(events('deploy-failed', 'resolved').length, 1);
  assert.deepEqual(pageErrors, []);
  await page.close();
});
