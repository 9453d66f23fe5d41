// Platform report-up end to end: a real orchestrator process reports to a small fake platform on loopback; the
// admin enrols in Settings with a one-time code, the page shows the connection, a revoked token shows as such, and
// re-enrolling with a new code connects again. (The contract itself — every body against docs/platform-api.yaml —
// is checked by the backend tests' fake platform.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { launchBrowser, screenshot, signInAsAdmin, startOrchestrator } from './harness.mjs';

/** Enrolment codes → site id; the current token per site; every report received. */
function startFakePlatform() {
  const codes = new Map();
  const tokens = new Map();
  const reports = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const answer = (status, value, type = 'application/json') => {
        response.writeHead(status, { 'Content-Type': type });
        response.end(JSON.stringify(value));
      };
      if (request.method === 'POST' && request.url === '/api/v1/enrolments') {
        const { code } = JSON.parse(body);
        const siteId = codes.get(code);
        if (!siteId) return answer(422, { title: 'Unknown enrolment code', status: 422 }, 'application/problem+json');
        codes.delete(code);
        const siteToken = `cst_${randomBytes(32).toString('base64url')}`;
        tokens.set(siteId, siteToken);
        return answer(201, { siteId, siteToken });
      }
      const match = /^\/api\/v1\/sites\/([^/]+)\/reports$/.exec(request.url ?? '');
      if (request.method === 'POST' && match) {
        if (request.headers.authorization !== `Bearer ${tokens.get(match[1])}`) {
          return answer(401, { title: 'Site token not accepted', status: 401 }, 'application/problem+json');
        }
        const report = JSON.parse(body);
        reports.push(report);
        return answer(200, { accepted: true, lastSequence: report.sequence });
      }
      return answer(404, { title: 'Not found', status: 404 }, 'application/problem+json');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}/api`,
        reports,
        createCode(siteId = 'site-e2e') {
          const code = `ENR-${randomBytes(4).toString('hex').toUpperCase()}`;
          codes.set(code, siteId);
          return code;
        },
        revokeTokens: () => tokens.clear(),
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

let platform;
let orchestrator;
let browser;

before(async () => {
  platform = await startFakePlatform();
  orchestrator = await startOrchestrator({
    PLATFORM__URL: platform.url,
    PLATFORM__POLLINTERVAL: '00:00:00.200',
    // A heartbeat every 2 s, so the revoked token is noticed without any change on the site.
    PLATFORM__HEARTBEAT: '00:00:02',
    PLATFORM__HEARTBEATJITTER: '00:00:00',
    PLATFORM__STARTUPJITTER: '00:00:00',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await orchestrator?.stop();
  await platform?.close();
});

test('admin enrols in Settings, sees the connection, a revoked token, and re-enrols', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signInAsAdmin(page, orchestrator);
  await page.goto(`${orchestrator.url}/settings`);
  const section = page.getByTestId('platform-connection');
  await section.getByText('Not enrolled').waitFor({ timeout: 15_000 });

  await page.getByLabel('Enrolment code', { exact: true }).fill('ENR-WRONG0');
  await page.getByRole('button', { name: 'Enrol', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Unknown enrolment code' }).waitFor();

  await page.getByLabel('Enrolment code', { exact: true }).fill(platform.createCode());
  await page.getByRole('button', { name: 'Enrol', exact: true }).click();
  await section.getByText('site-e2e').waitFor();
  await section.getByText('Connected', { exact: true }).waitFor({ timeout: 20_000 });
  assert.equal(platform.reports[0].sequence, 1);
  assert.equal(platform.reports[0].trigger, 'enrolment');
  assert.equal(platform.reports[0].activeRelease.name, '2026.06');
  await screenshot(page, 'platform-connected');

  platform.revokeTokens();
  await section.getByText('Platform rejected the site token — re-enrol', { exact: true }).waitFor({ timeout: 20_000 });
  assert.match(await page.getByRole('alert').innerText(), /nothing is reported/);
  await screenshot(page, 'platform-token-rejected');

  const before = platform.reports.length;
  await page.getByLabel('New enrolment code').fill(platform.createCode());
  await page.getByRole('button', { name: 'Re-enrol' }).click();
  await section.getByText('Connected', { exact: true }).waitFor({ timeout: 20_000 });
  assert.ok(platform.reports.length > before, 'reports flow again after re-enrolment');
  const sequences = platform.reports.map((r) => r.sequence);
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'sequence numbers only increase');
  assert.equal(new Set(sequences).size, sequences.length);
});
