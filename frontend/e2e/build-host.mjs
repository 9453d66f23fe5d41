// A Proxmox host for the build E2E, on this machine: the Proxmox emulator (standalone PveSim), a real
// sshd whose build key runs the real host/ctrlable-build as its forced command, the pct/qm/pveam/pvesh
// stand-ins acting on the emulator, and a fixture "upstream" git repository at a tag. Nothing is
// fetched from the network: the curl stand-in refuses every real upstream URL.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, pveSimDll, repoRoot } from './harness.mjs';

export const release = '2026.07';
export const ref = '2026-05-30';

function waitForPort(port, child, output, what) {
  const deadline = Date.now() + 60_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`${what} exited with ${child.exitCode}:\n${output()}`));
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`${what} did not listen on ${port}:\n${output()}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

function spawnLogged(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  return { child, output: () => text };
}

function git(cwd, ...args) {
  return execFileSync('git', ['-C', cwd, '-c', 'user.name=fixture', '-c', 'user.email=fixture@example.invalid', ...args], {
    encoding: 'utf8',
  }).trim();
}

/**
 * Starts the emulator and sshd and writes the wrapper's stand-ins, fixture upstream and release
 * manifest. Returns the orchestrator settings (CTRLABLE_* without the prefix) to start it with, and
 * `configureWrapper(orchestratorHttpsUrl, fingerprint)` to call once the orchestrator runs.
 */
export async function startBuildHost() {
  const dir = mkdtempSync(join(tmpdir(), 'ctrlable-e2e-build-'));
  const processes = [];

  // The Proxmox emulator: least-privilege token for the orchestrator, root@pam!admin for the stand-ins.
  const simPort = await freePort();
  const sim = spawnLogged('dotnet', [pveSimDll, '--port', String(simPort), '--nodes', 'pve1', '--timing-scale', '0.02']);
  processes.push(sim.child);
  await waitForPort(simPort, sim.child, sim.output, 'PveSim');
  for (let i = 0; i < 50 && !/Ctrl\+C to stop/.test(sim.output()); i++) await new Promise((r) => setTimeout(r, 100));
  const simOut = sim.output();
  const fingerprint = /fingerprint ([0-9A-F:]{95})/.exec(simOut)?.[1];
  const admin = /PVEAPIToken=(root@pam!admin)=([0-9a-f-]+)/.exec(simOut);
  const provisioner = /PVEAPIToken=(ctrlable@pve!provisioner)=([0-9a-f-]+)/.exec(simOut);
  if (!fingerprint || !admin || !provisioner) throw new Error(`unexpected PveSim output:\n${simOut}`);
  const simUrl = `https://127.0.0.1:${simPort}/api2/json/`;

  // The stand-ins, configured by files beside them (the wrapper runs builders with a cleared environment).
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['pct', 'qm', 'pveam', 'pvesh', 'pvesim.sh', 'curl', 'ip']) {
    copyFileSync(join(repoRoot, 'host', 'testing', tool), join(bin, tool));
    chmodSync(join(bin, tool), 0o755);
  }
  writeFileSync(
    join(bin, 'pvesim.env'),
    `PVESIM_URL=${simUrl}\nPVESIM_TOKEN=${admin[1]}=${admin[2]}\nPVESIM_NODE=pve1\nPVESIM_CT_ROOT=${join(dir, 'ct')}\n`,
  );
  writeFileSync(join(bin, 'fetch-guard.env'), `FETCH_LOG=${join(dir, 'fetch.log')}\nREAL_CURL=/usr/bin/curl\n`);

  // The fixture upstream, committed and tagged like a community-scripts release tag.
  const upstream = join(dir, 'upstream');
  cpSync(join(repoRoot, 'backend', 'Ctrlable.Provisioner.Tests', 'Build', 'Fixtures', 'upstream'), upstream, { recursive: true });
  git(upstream, 'init', '--quiet');
  git(upstream, 'add', '-A');
  git(upstream, 'commit', '--quiet', '-m', 'fixture upstream');
  git(upstream, 'tag', ref);
  const commit = git(upstream, 'rev-parse', 'HEAD');

  const releases = join(dir, 'releases');
  mkdirSync(releases);
  writeFileSync(
    join(releases, `${release}.yaml`),
    [
      `release: "${release}"`,
      `community_scripts_ref: "${ref}"`,
      `community_scripts_commit: "${commit}"`,
      'proxmox_min_version: "8.2"',
      'templates:',
      '  zwavejs:',
      '    kind: lxc',
      '    builder: ct/zwave-js-ui.sh',
      '    vmid: 9101',
      '    app_version: "11.x"',
      '    resources: { cpu: 2, ram: 1024, disk: 4 }',
      // Fails half-way through its install (the fixture's ct/broken.sh); a test fixes it by naming another builder.
      '  broken:',
      '    kind: lxc',
      '    builder: ct/broken.sh',
      '    vmid: 9102',
      '    resources: { cpu: 1, ram: 512, disk: 4 }',
      '',
    ].join('\n'),
  );

  const firstboot = join(dir, 'firstboot');
  mkdirSync(firstboot);
  writeFileSync(join(firstboot, 'ctrlable-firstboot'), '#!/bin/sh\necho ctrlable first boot\n');
  writeFileSync(join(firstboot, 'ctrlable-firstboot.service'), '[Unit]\nDescription=Ctrlable first boot\n');

  // sshd with its own host key; the build key may only run the wrapper.
  const sshDir = join(dir, 'sshd');
  mkdirSync(sshDir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ctrlable-build-e2e', '-f', join(sshDir, 'build_key')]);
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-lf', join(sshDir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1];
  const conf = join(dir, 'ctrlable-build.conf');
  const wrapper = join(repoRoot, 'host', 'ctrlable-build');
  writeFileSync(
    join(sshDir, 'authorized_keys'),
    `command="env CTRLABLE_BUILD_CONF=${conf} ${wrapper}",restrict ${readFileSync(join(sshDir, 'build_key.pub'), 'utf8').trim()}\n`,
  );
  const sshPort = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(sshDir, 'sshd_config'),
    [
      `Port ${sshPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(sshDir, 'host_key')}`,
      `PidFile ${join(sshDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      '',
    ].join('\n'),
  );
  if (user === 'root') mkdirSync('/run/sshd', { recursive: true });
  const sshd = spawnLogged('/usr/sbin/sshd', ['-D', '-e', '-f', join(sshDir, 'sshd_config')]);
  processes.push(sshd.child);
  await waitForPort(sshPort, sshd.child, sshd.output, 'sshd');

  return {
    dir,
    commit,
    /** The release manifest the orchestrator reads (tests edit it to fix a template). */
    manifest: join(releases, `${release}.yaml`),
    /** Orchestrator settings: this emulator as its Proxmox, this sshd as its host trigger, these releases. */
    settings: {
      STORAGE__RELEASESDIRECTORY: releases,
      PROXMOX__URL: simUrl,
      PROXMOX__TOKENID: provisioner[1],
      PROXMOX__TOKENSECRET: provisioner[2],
      PROXMOX__CERTIFICATEFINGERPRINT: fingerprint,
      PROXMOX__NODE: 'pve1',
      HOSTTRIGGER__HOST: '127.0.0.1',
      HOSTTRIGGER__PORT: sshPort,
      HOSTTRIGGER__USER: user,
      HOSTTRIGGER__KEYPATH: join(sshDir, 'build_key'),
      HOSTTRIGGER__HOSTKEYFINGERPRINT: hostKeyFingerprint,
    },
    /** Writes the wrapper's settings: the orchestrator's https URL and its certificate fingerprint. */
    configureWrapper(orchestratorUrl, orchestratorFingerprint, mirrorPort) {
      writeFileSync(
        conf,
        [
          `PATH="${bin}:/usr/local/bin:/usr/bin:/bin"`,
          `ORCHESTRATOR_URL=${orchestratorUrl}`,
          `ORCHESTRATOR_FINGERPRINT=${orchestratorFingerprint}`,
          `UPSTREAM_URL=file://${upstream}`,
          `WORK_DIR=${join(dir, 'work')}`,
          `LOG_DIR=${join(dir, 'logs')}`,
          `LOCK_FILE=${join(dir, 'build.lock')}`,
          'MIRROR_BIND=127.0.0.1',
          `MIRROR_PORT=${mirrorPort}`,
          `FIRSTBOOT_DIR=${firstboot}`,
          `COMMUNITY_SCRIPTS_DIR=${join(dir, 'community-scripts')}`,
          'NODE=pve1',
          'PYTHON=/usr/bin/python3',
          // The host's bounds on the plan: the orchestrator's storage, bridge and template pool (defaults).
          'TEMPLATE_STORAGE=local',
          'ALLOWED_STORAGES=local-lvm',
          'ALLOWED_BRIDGES=vmbr0',
          'ALLOWED_POOLS=ctrlable-templates',
          '',
        ].join('\n'),
      );
    },
    /** Every URL the wrapper and the builders fetched. */
    fetched: () => {
      try {
        return readFileSync(join(dir, 'fetch.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    logs: () => `--- PveSim\n${sim.output()}\n--- sshd\n${sshd.output()}`,
    async stop() {
      for (const child of processes.reverse()) {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
          if (child.exitCode === null) child.kill('SIGKILL');
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
