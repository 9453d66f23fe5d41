// Browser end-to-end harness: a real orchestrator process on a free loopback port with its own data
// directory, and Debian's Chromium driven by playwright-core (never a downloaded browser).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const screenshotDir = process.env.E2E_SCREENSHOT_DIR ?? join(repoRoot, 'test-results', 'screenshots');

const orchestratorDll =
  process.env.E2E_ORCHESTRATOR_DLL ??
  join(repoRoot, 'backend', 'Ctrlable.Provisioner.Demo', 'bin', 'Release', 'net10.0', 'Ctrlable.Provisioner.Demo.dll');

export const pveSimDll =
  process.env.E2E_PVESIM_DLL ?? join(repoRoot, 'backend', 'Ctrlable.PveSim', 'bin', 'Release', 'net10.0', 'Ctrlable.PveSim.dll');

/** A free TCP port on 127.0.0.1 (the OS picks it; the socket is closed again at once). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts the orchestrator as the README's run command would, but on a free port and a fresh data
 * directory. `settings` become CTRLABLE_* environment variables; `extraUrls` are further listen URLs
 * (for example an https:// one for the host build wrapper); `dataDir` restarts on the data directory
 * of an earlier run (stopped with `stop({ keepData: true })`; this run's stop() removes it).
 */
export async function startOrchestrator(settings = {}, { extraUrls = [], dataDir: reusedDataDir } = {}) {
  if (!existsSync(orchestratorDll)) {
    throw new Error(`${orchestratorDll} not found: build first (dotnet build -c Release) or set E2E_ORCHESTRATOR_DLL`);
  }
  if (!existsSync(join(repoRoot, 'backend', 'Ctrlable.Provisioner', 'wwwroot', 'index.html'))) {
    throw new Error('The SPA is not built: run `npm run build` in frontend/ first');
  }
  const port = await freePort();
  const dataDir = reusedDataDir ?? mkdtempSync(join(tmpdir(), 'ctrlable-e2e-'));
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DOTNET_NOLOGO: '1',
    CTRLABLE_STORAGE__DATADIRECTORY: dataDir,
    CTRLABLE_STORAGE__RELEASESDIRECTORY: join(repoRoot, 'releases'),
    ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [`CTRLABLE_${k}`, String(v)])),
  };
  // The demo build (the emulator stands in when no Proxmox host is set); the product's folder is its content root.
  const child = spawn('dotnet', [orchestratorDll, '--Urls', [url, ...extraUrls].join(';')], {
    cwd: join(repoRoot, 'backend', 'Ctrlable.Provisioner'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`orchestrator exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`orchestrator did not become healthy within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    dataDir,
    logs: () => output,
    /** Stops the process; `keepData` keeps its data directory for a restart on it. */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with the flags that keep it off the (closed) network. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as a test artifact under test-results/screenshots/. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export const e2eAdmin = { username: 'e2e-admin', password: 'Harness-Passw0rd-2026' };

/**
 * The first admin's one-time set-up code, read where an operator reads it: the file setup-code in the
 * orchestrator's data directory (written at start while no admin exists).
 */
export function readSetupCode(orchestrator) {
  return readFileSync(join(orchestrator.dataDir, 'setup-code'), 'utf8').trim();
}

/** A POST with the page's session that must succeed; throws with the answer otherwise. */
async function postOk(page, orchestrator, path, data) {
  const { status, body } = await apiRequest(page, orchestrator, 'POST', path, data);
  if (status < 200 || status >= 300) throw new Error(`${path} answered ${status}: ${JSON.stringify(body)}`);
}

/** Signs the page's browser context in as `user` ({ username, password }); cookies are shared with the page. */
export async function signIn(page, orchestrator, user) {
  await postOk(page, orchestrator, '/api/auth/sign-in', user);
}

/**
 * Creates the first admin through the API (setup) and signs the page's browser context in, for tests
 * that are about something else than access control. Cookies are shared with the page.
 */
export async function signInAsAdmin(page, orchestrator) {
  const { body } = await apiRequest(page, orchestrator, 'GET', '/api/setup');
  if (body.required) await postOk(page, orchestrator, '/api/setup', { ...e2eAdmin, setupCode: readSetupCode(orchestrator) });
  await signIn(page, orchestrator, e2eAdmin);
}

/** An API call with the page's session (and a fresh antiforgery token for a change): status and JSON body. */
export async function apiRequest(page, orchestrator, method, path, data) {
  const request = page.context().request;
  const headers = {};
  if (method !== 'GET') {
    const { headerName, token } = await (await request.get(`${orchestrator.url}/api/auth/antiforgery`)).json();
    headers[headerName] = token;
  }
  const response = await request.fetch(`${orchestrator.url}${path}`, { method, data, headers });
  return { status: response.status(), body: response.headers()['content-type']?.includes('json') ? await response.json() : null };
}

/**
 * A call to the demo's Proxmox emulator's own controls (/_sim/…), over its HTTPS, pinned to the certificate the
 * orchestrator trusts. `settings` is GET /api/settings/proxmox (url, certificateFingerprint); `data`, when given, is
 * sent as JSON.
 */
export function emulatorRequest(settings, method, path, data) {
  const url = new URL(path, settings.url);
  const pin = settings.certificateFingerprint.replaceAll(':', '').toUpperCase();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        headers: data === undefined ? {} : { 'content-type': 'application/json' },
        rejectUnauthorized: false,
        checkServerIdentity: (_, certificate) =>
          certificate.fingerprint256.replaceAll(':', '').toUpperCase() === pin ? undefined : new Error('not the emulator the orchestrator pins'),
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end(data === undefined ? undefined : JSON.stringify(data));
  });
}

/** Polls `check` until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function waitUntil(what, check, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until every instance of the project is active (and there are `count` of them, when given) and returns them;
 * a failed instance ends the wait at once with its error.
 */
export function waitForActiveInstances(page, orchestrator, projectId, count) {
  return waitUntil(`every instance of project ${projectId} active`, async () => {
    const { body } = await apiRequest(page, orchestrator, 'GET', `/api/projects/${projectId}`);
    const failed = body.instances.find((i) => i.state === 'failed');
    if (failed) throw new Error(`${failed.hostname} failed: ${failed.error}`);
    const complete = count === undefined || body.instances.length === count;
    return complete && body.instances.every((i) => i.state === 'active') ? body.instances : null;
  });
}

/**
 * A site deployed through the API (the deploy's own browser test is deploy.test.mjs): a project with the test LAN's
 * Zigbee and Z-Wave coordinators, and `types` deployed; resolves once every instance is active.
 */
export async function deploySite(page, orchestrator, name, types) {
  const created = await apiRequest(page, orchestrator, 'POST', '/api/projects', {
    name,
    settings: { zigbee: { host: '192.168.1.50' }, zwave: { host: '192.168.1.51', port: 3333 } },
  });
  if (created.status !== 201) throw new Error(`creating project ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  const projectId = created.body.id;
  const deployed = await apiRequest(page, orchestrator, 'POST', `/api/projects/${projectId}/deploy`, { types });
  if (deployed.status !== 202) throw new Error(`deploying ${types.join(', ')}: ${deployed.status} ${JSON.stringify(deployed.body)}`);
  return { projectId, instances: await waitForActiveInstances(page, orchestrator, projectId, types.length) };
}

/**
 * Writes a Home Assistant base backup as the emulators make it (PveSim's --write-base-backup: HaSim's builder, the
 * owner's password on standard input) and returns what it printed: { file, sha256, slug, admin }. `options`: admin,
 * name, without (e.g. ['mosquitto', 'frigate']).
 */
export function writeBaseBackup(file, ownerPassword, { admin, name, without = [] } = {}) {
  if (!existsSync(pveSimDll)) throw new Error(`${pveSimDll} not found: build first (dotnet build -c Release) or set E2E_PVESIM_DLL`);
  const args = [pveSimDll, '--write-base-backup', file];
  if (admin) args.push('--admin', admin);
  if (name) args.push('--name', name);
  if (without.length > 0) args.push('--without', without.join(','));
  const run = spawnSync('dotnet', args, { input: `${ownerPassword}\n`, encoding: 'utf8', env: { ...process.env, DOTNET_NOLOGO: '1' } });
  if (run.status !== 0) throw new Error(`--write-base-backup exited with ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
