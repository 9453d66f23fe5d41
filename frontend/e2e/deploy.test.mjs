// The deploy pipeline end to end in the browser, against the orchestrator in demo mode (the
// in-process Proxmox emulator, its durations ×0.1): create a project through the form, run the
// deploy wizard, watch the live progress view, then stop, start and delete guests from their cards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, screenshot, signInAsAdmin, startOrchestrator } from './harness.mjs';

// The demo's LXC guests run the real first-boot script against the orchestrator (its loopback HTTPS
// listener), which moves them on to personalising and active; ctrlable-pro (Home Assistant OS, no
// first-boot script) runs the Home Assistant emulator, which the orchestrator locates, restores from
// the release's base backup, secures and wires. So every guest must reach active.
const FIRST_BOOT_MERGED = true;

const LXC_COMPONENTS = ['zwavejs', 'zigbee2mqtt'];
const COMPONENTS = [...LXC_COMPONENTS, 'ctrlable-pro'];

let orchestrator;
let browser;

before(async () => {
  // Home Assistant is polled every 5 s in production; the emulator's phases are scaled down, so poll faster.
  orchestrator = await startOrchestrator({ SIMULATOR__TIMINGSCALE: '0.1', HOMEASSISTANT__POLLINTERVALSECONDS: '0.3' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
});

/** The states a guest of this component may settle in (see FIRST_BOOT_MERGED). */
function settledStates(type) {
  if (FIRST_BOOT_MERGED || !LXC_COMPONENTS.includes(type)) return ['active'];
  return ['active', 'waiting'];
}

test('create a project, deploy three components, watch them come up, stop/start and delete guests', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await signInAsAdmin(page, orchestrator);

  // --- Projects: empty at first, with the way forward -----------------------------------------
  await page.goto(`${orchestrator.url}/projects`);
  await page.getByRole('heading', { name: /No projects yet — create one for the customer's site/ }).waitFor({ timeout: 15_000 });
  await screenshot(page, 'projects-empty');
  await page.getByRole('main').getByRole('link', { name: 'New project' }).first().click();

  // --- New project: the API's validation errors land next to their fields ----------------------
  const form = page.getByRole('form', { name: 'New project' });
  await form.waitFor();
  // An empty coordinator host is valid ("not known yet"); one that is not a host is not.
  await form.getByLabel('Coordinator host').fill('not a host!');
  await form.getByRole('button', { name: 'Create project' }).click();
  await form.getByRole('alert').waitFor();
  assert.match(await form.getByRole('alert').innerText(), /2 settings need fixing/);
  assert.equal(await form.getByLabel('Project name').getAttribute('aria-invalid'), 'true');
  assert.equal(await form.getByLabel('Coordinator host').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'project-form-errors');

  await form.getByLabel('Project name').fill('Smith residence');
  await form.getByLabel('Coordinator host').fill('192.168.1.50');
  await form.getByLabel('ser2net host').fill('192.168.1.51');
  // Z-Wave on a USB stick: the form warns that it needs a manual USB binding on the host.
  await form.getByRole('group', { name: 'Z-Wave controller' }).getByLabel(/USB stick on the Proxmox host/).check();
  await form.getByLabel('USB device').fill('/dev/serial/by-id/usb-0658_0200-if00');
  assert.match(await form.getByRole('note').innerText(), /needs a manual USB binding on the Proxmox host/);
  await form.getByRole('button', { name: 'Add camera' }).click();
  await form.getByLabel('Camera 1 name').fill('front-door');
  await form.getByLabel('Camera 1 stream URL').fill('rtsp://192.168.1.60:554/stream1');
  // A field's error goes once its value is changed.
  assert.equal(await form.getByLabel('Project name').getAttribute('aria-invalid'), null);
  await screenshot(page, 'project-form');
  await form.getByRole('button', { name: 'Create project' }).click();

  // --- Project page, then the wizard -----------------------------------------------------------
  await page.getByRole('heading', { level: 1, name: 'Smith residence' }).waitFor();
  assert.match(page.url(), /\/projects\/\d+$/);
  await page.getByRole('heading', { name: 'Nothing deployed yet' }).waitFor();
  await page.getByRole('link', { name: 'Deploy components' }).click();

  await page.getByRole('heading', { name: 'Choose components', level: 2 }).waitFor({ timeout: 15_000 });
  const checkboxes = page.getByRole('checkbox');
  for (let i = 0; i < (await checkboxes.count()); i += 1) {
    const box = checkboxes.nth(i);
    const id = await box.getAttribute('id');
    const type = id?.replace(/^component-/, '');
    if (await box.isDisabled()) continue;
    if (COMPONENTS.includes(type)) await box.check();
    else await box.uncheck();
  }
  assert.match(await page.getByRole('row', { name: /^Selected: 3 components/ }).innerText(), /6\s+8 GiB\s+48 GB/);
  assert.match(await page.getByRole('region', { name: 'Capacity' }).innerText(), /needs 8 GiB/);
  await screenshot(page, 'deploy-wizard');
  await page.getByRole('button', { name: 'Next: review' }).click();
  await page.getByRole('heading', { name: 'Review', level: 2 }).waitFor();
  const planned = await page.getByRole('list', { name: 'Guests to create' }).innerText();
  for (const type of COMPONENTS) assert.match(planned, new RegExp(`smith-residence-${type}`));
  await screenshot(page, 'deploy-review');
  await page.getByRole('button', { name: 'Deploy 3 components' }).click();

  // --- Live progress -------------------------------------------------------------------------
  await page.waitForURL(/\/deploys\/\d+$/);
  await page.getByRole('heading', { level: 1, name: 'Deploy to Smith residence' }).waitFor();
  // Home Assistant's card lists its own steps after the VM's start.
  const haSteps = await page.getByRole('list', { name: /Steps of smith-residence-ctrlable-pro/ }).innerText();
  for (const label of ['Find Home Assistant', 'Wait for Home Assistant', 'Restore the base backup', 'Set site credentials', 'Wire MQTT, Z-Wave JS']) {
    assert.match(haSteps, new RegExp(label));
  }
  const cards = page.locator('article[data-instance]');
  await page.waitForFunction(
    (expected) => {
      const found = [...document.querySelectorAll('article[data-instance]')];
      if (found.length !== Object.keys(expected).length) return false;
      return found.every((card) => {
        const host = card.querySelector('h3')?.textContent ?? '';
        const type = Object.keys(expected).find((t) => host.endsWith(`-${t}`));
        return type !== undefined && expected[type].includes(card.getAttribute('data-state'));
      });
    },
    Object.fromEntries(COMPONENTS.map((type) => [type, settledStates(type)])),
    { timeout: 60_000 },
  );
  assert.equal(await cards.count(), 3);
  for (const type of COMPONENTS) {
    const card = page.getByRole('article', { name: `smith-residence-${type}` });
    const state = await card.getAttribute('data-state');
    assert.ok(settledStates(type).includes(state), `${type} is ${state}`);
    const text = await card.innerText();
    assert.match(text, state === 'active' ? /Active|Needs USB binding/ : /Waiting for first boot/);
    const bar = card.getByRole('progressbar', { name: `Progress of smith-residence-${type}` });
    assert.equal(await bar.getAttribute('aria-valuenow'), state === 'active' ? '100' : '75');
  }
  // Z-Wave on USB is flagged amber on its card.
  assert.match(
    await page.getByRole('article', { name: 'smith-residence-zwavejs' }).getByRole('note').innerText(),
    /Needs a USB binding on the Proxmox host/,
  );
  assert.match(await page.locator('[data-mode]').first().innerText(), /Live/);
  // Fields the events do not carry (the VMID) are re-read from the API once a guest has moved on.
  for (const type of COMPONENTS) {
    await page
      .getByRole('article', { name: `smith-residence-${type}` })
      .getByText(/^(CT|VM) \d+$/)
      .waitFor({ timeout: 10_000 });
  }
  await page.waitForTimeout(400); // let the bars finish their short transition
  await screenshot(page, 'deploy-progress');
  await page.setViewportSize({ width: 1024, height: 768 });
  await screenshot(page, 'deploy-progress-tablet');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Home Assistant is active with a link to where the orchestrator found it; the link opens it.
  const haLink = page.getByRole('article', { name: 'smith-residence-ctrlable-pro' }).getByRole('link', { name: /Open Home Assistant/ });
  const haUrl = await haLink.getAttribute('href');
  assert.match(haUrl, /^http:\/\/127\.\d+\.\d+\.\d+:\d+\/$/);
  assert.equal(await haLink.getAttribute('target'), '_blank');
  const haPage = await browser.newPage();
  await haPage.goto(haUrl);
  assert.match(await haPage.content(), /Home Assistant/);
  await haPage.close();

  // The view survives a reload: the event stream starts with a snapshot.
  await page.reload();
  await page.getByRole('article', { name: 'smith-residence-ctrlable-pro' }).waitFor();
  assert.equal(await page.getByRole('article', { name: 'smith-residence-ctrlable-pro' }).getAttribute('data-state'), 'active');

  // --- Project page: stop and start a guest, delete one with its name typed --------------------
  await page.getByRole('link', { name: 'Go to the project' }).or(page.getByRole('link', { name: 'Smith residence' })).first().click();
  await page.getByRole('heading', { level: 1, name: 'Smith residence' }).waitFor();
  const ha = page.getByRole('article', { name: 'smith-residence-ctrlable-pro' });
  await ha.getByRole('button', { name: 'Stop' }).waitFor({ timeout: 15_000 });
  await ha.getByRole('button', { name: 'Stop' }).click();
  // Stopped: the badge says so, and only Start is offered.
  await ha.getByText('Stopped', { exact: true }).waitFor({ timeout: 30_000 });
  await ha.getByRole('button', { name: 'Stop' }).waitFor({ state: 'detached' });
  await ha.getByRole('button', { name: 'Start' }).click();
  await ha.getByText('Active', { exact: true }).waitFor({ timeout: 30_000 });
  await ha.getByRole('button', { name: 'Start' }).waitFor({ state: 'detached' });
  assert.equal(await ha.getByRole('button', { name: 'Stop' }).count(), 1);
  await screenshot(page, 'project-detail');

  const zigbee = page.getByRole('article', { name: 'smith-residence-zigbee2mqtt' });
  await zigbee.getByRole('button', { name: 'Delete' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete smith-residence-zigbee2mqtt?' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /This destroys CT \d+ smith-residence-zigbee2mqtt and its disks/);
  const confirm = dialog.getByRole('button', { name: /^Delete CT \d+$/ });
  assert.equal(await confirm.isDisabled(), true);
  await dialog.getByLabel(/to confirm/).fill('smith-residence-zigbee');
  assert.equal(await confirm.isDisabled(), true);
  await dialog.getByLabel(/to confirm/).fill('smith-residence-zigbee2mqtt');
  await screenshot(page, 'delete-dialog');
  await confirm.click();
  await dialog.waitFor({ state: 'detached' });
  await zigbee.waitFor({ state: 'detached', timeout: 30_000 });
  assert.equal(await page.locator('article[data-instance]').count(), 2);

  // --- The projects list counts the guests by state ----------------------------------------------
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  const card = page.getByRole('article', { name: 'Smith residence' });
  await card.waitFor();
  const cardText = await card.innerText();
  assert.match(cardText, /smith-residence/);
  assert.match(cardText, /2 guests/);
  assert.match(cardText, FIRST_BOOT_MERGED ? /1 active/ : /1 active|in progress/);
  await screenshot(page, 'projects');

  assert.deepEqual(consoleErrors, []);
  await page.close();
});
