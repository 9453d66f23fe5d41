import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { project, siteSettings } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, renderInRouter } from '@/testing/test-utils';
import { ProjectForm } from '../project-form';

function validationProblem(errors: Record<string, string[]>) {
  return jsonResponse(
    { type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1', title: 'One or more validation errors occurred.', status: 400, errors },
    { status: 400, headers: { 'Content-Type': 'application/problem+json' } },
  );
}

describe('project form', () => {
  it('creates a project with sensible default site settings', async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    let sent: unknown;
    let csrf: string | null = null;
    mockApi({
      'POST /api/projects': async (request) => {
        sent = await request.json();
        csrf = request.headers.get('X-CSRF-TOKEN');
        return jsonResponse(project({ id: 5 }), { status: 201 });
      },
    });
    renderInRouter(<ProjectForm onSaved={onSaved} cancelHref="/projects" />);

    const form = screen.getByRole('form', { name: 'New project' });
    await user.type(within(form).getByLabelText('Project name'), 'Smith residence');
    await user.type(within(form).getByLabelText('Coordinator host'), '192.168.1.50');
    await user.type(within(form).getByLabelText('ser2net host'), '192.168.1.51');
    await user.click(within(form).getByRole('button', { name: 'Create project' }));

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalledWith(expect.objectContaining({ id: 5 })));
    expect(csrf).toBe('csrf-test-token');
    expect(sent).toEqual({
      name: 'Smith residence',
      slug: null,
      settings: {
        zigbee: { mode: 'network', host: '192.168.1.50', port: 6638, adapter: 'zstack', usbDevice: null },
        zwave: { mode: 'network', host: '192.168.1.51', port: 3333, adapter: 'zstack', usbDevice: null },
        mqtt: null,
        cameras: [],
        network: { bridge: null, vlan: null },
        addressing: { mode: 'dhcp', network: null, range: null, gateway: null, dnsServers: [], dnsServesHostnames: false },
        node: null,
        storage: null,
        backups: null,
      },
    });
  });

  it('takes a static address plan, sends it, and shows the API’s errors next to its fields', async () => {
    const user = userEvent.setup();
    const bodies: { settings: { addressing: unknown } }[] = [];
    mockApi({
      'POST /api/projects': async (request) => {
        bodies.push((await request.json()) as (typeof bodies)[number]);
        return validationProblem({
          'settings.addressing.range': ['Range must lie inside the network 192.168.1.0/24.'],
          'settings.addressing.dnsServers[1]': ['DNS server must be an IPv4 address such as 192.168.1.1.'],
        });
      },
    });
    renderInRouter(<ProjectForm onSaved={vi.fn()} cancelHref="/projects" />);
    const form = screen.getByRole('form', { name: 'New project' });
    expect(within(form).queryByLabelText('Network (CIDR)')).not.toBeInTheDocument();

    const addresses = within(form).getByRole('group', { name: 'Guest addresses' });
    await user.click(within(addresses).getByRole('radio', { name: /Static addresses/ }));
    // Pasted rather than typed key by key: the values, not the typing, are under test.
    const fill = async (label: string, value: string) => {
      await user.click(within(form).getByLabelText(label));
      await user.paste(value);
    };
    await fill('Project name', 'Smith residence');
    await fill('Network (CIDR)', '192.168.1.0/24');
    await fill('Address block for guests', '192.168.2.64/27');
    await fill('Gateway', '192.168.1.1');
    await fill('DNS servers', '192.168.1.1, dns.local');
    await user.click(within(form).getByRole('checkbox', { name: /DNS resolves the guests' host names/ }));
    await user.click(within(form).getByRole('button', { name: 'Create project' }));

    const summary = await within(form).findByRole('alert');
    expect(summary).toHaveTextContent('2 settings need fixing');
    expect(bodies[0]?.settings.addressing).toEqual({
      mode: 'static',
      network: '192.168.1.0/24',
      range: '192.168.2.64/27',
      gateway: '192.168.1.1',
      dnsServers: ['192.168.1.1', 'dns.local'],
      dnsServesHostnames: true,
    });
    expect(within(form).getByLabelText('Address block for guests')).toHaveAccessibleDescription(
      'CIDR inside the network, outside the DHCP pool: each guest gets one of these Range must lie inside the network 192.168.1.0/24.',
    );
    const dns = within(form).getByLabelText('DNS servers');
    expect(dns).toHaveAttribute('aria-invalid', 'true');
    expect(dns).toHaveAccessibleDescription(
      'One to three, separated by commas (often the gateway) DNS server must be an IPv4 address such as 192.168.1.1.',
    );
    expect(within(form).getByLabelText('Network (CIDR)')).not.toHaveAttribute('aria-invalid');

    // Back to DHCP: the plan's fields go away.
    await user.click(within(addresses).getByRole('radio', { name: /DHCP/ }));
    expect(within(form).queryByLabelText('Gateway')).not.toBeInTheDocument();
  });

  it('shows each validation error of the API next to its field, and drops it once the field is changed', async () => {
    const user = userEvent.setup();
    mockApi({
      'POST /api/projects': () =>
        validationProblem({
          name: ["'Name' must not be empty."],
          'settings.zigbee.host': ["'Host' must not be empty."],
          'settings.network.vlan': ["'network.vlan' must be between 1 and 4094. You entered 5000."],
          'settings.cameras[0].streamUrl': ['Stream URL must be an rtsp://, rtsps://, http:// or https:// URL.'],
          'settings.mqtt.port': ["'Mqtt Port' must be between 1 and 65535. You entered 0."],
          'settings.something.else': ['A rule the form has no field for.'],
        }),
    });
    renderInRouter(<ProjectForm onSaved={vi.fn()} cancelHref="/projects" />);
    const form = screen.getByRole('form', { name: 'New project' });

    await user.click(within(form).getByRole('radio', { name: /Another broker/ }));
    await user.clear(within(form).getByLabelText('Broker port'));
    await user.type(within(form).getByLabelText('VLAN tag'), '5000');
    await user.click(within(form).getByRole('button', { name: 'Add camera' }));
    await user.type(within(form).getByLabelText('Camera 1 name'), 'front');
    await user.type(within(form).getByLabelText('Camera 1 stream URL'), 'camera.local');
    await user.click(within(form).getByRole('button', { name: 'Create project' }));

    const summary = await within(form).findByRole('alert');
    expect(summary).toHaveTextContent('The project was not saved: 5 settings need fixing — see the marked fields.');
    expect(summary).toHaveTextContent('A rule the form has no field for.');
    expect(within(summary).getByText('Details')).toBeInTheDocument();

    const name = within(form).getByLabelText('Project name');
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription('Required.');
    expect(within(form).getByLabelText('Coordinator host')).toHaveAccessibleDescription('IP address or host name Required.');
    expect(within(form).getByLabelText('VLAN tag')).toHaveAccessibleDescription(
      '1–4094; empty = untagged Must be between 1 and 4094. You entered 5000.',
    );
    expect(within(form).getByLabelText('Camera 1 stream URL')).toHaveAccessibleDescription(
      'Stream URL must be an rtsp://, rtsps://, http:// or https:// URL.',
    );
    expect(within(form).getByLabelText('Broker port')).toHaveAccessibleDescription(
      '1883, or 8883 with TLS Must be between 1 and 65535. You entered 0.',
    );
    // The first field with an error takes the focus.
    await vi.waitFor(() => expect(name).toHaveFocus());

    await user.type(name, 'Smith residence');
    expect(name).not.toHaveAttribute('aria-invalid');
    expect(within(form).getByLabelText('Coordinator host')).toHaveAttribute('aria-invalid', 'true');
  });

  it('warns that a USB coordinator needs a manual USB binding on the Proxmox host', async () => {
    const user = userEvent.setup();
    let sent: { settings: { zigbee: unknown } } | undefined;
    mockApi({
      'POST /api/projects': async (request) => {
        sent = (await request.json()) as typeof sent;
        return jsonResponse(project(), { status: 201 });
      },
    });
    renderInRouter(<ProjectForm onSaved={vi.fn()} cancelHref="/projects" />);
    const form = screen.getByRole('form', { name: 'New project' });
    expect(within(form).queryByRole('note')).not.toBeInTheDocument();

    const zigbee = within(form).getByRole('group', { name: 'Zigbee coordinator' });
    await user.click(within(zigbee).getByRole('radio', { name: /USB stick on the Proxmox host/ }));

    expect(within(form).queryByLabelText('Coordinator host')).not.toBeInTheDocument();
    await user.type(within(form).getByLabelText('USB device'), '/dev/ttyUSB0');
    const note = within(form).getByRole('note');
    expect(note).toHaveTextContent('This needs a manual USB binding on the Proxmox host.');
    expect(note).toHaveTextContent('pass /dev/ttyUSB0 through to the Zigbee2MQTT guest');
    await user.selectOptions(within(form).getByLabelText('Adapter type'), 'ember');

    await user.type(within(form).getByLabelText('Project name'), 'Smith');
    await user.click(within(form).getByRole('button', { name: 'Create project' }));
    await vi.waitFor(() => expect(sent).toBeDefined());
    expect(sent?.settings.zigbee).toEqual({ mode: 'usb', host: null, port: 6638, adapter: 'ember', usbDevice: '/dev/ttyUSB0' });
  });

  it('puts a taken slug next to the slug field', async () => {
    const user = userEvent.setup();
    mockApi({
      'POST /api/projects': () =>
        jsonResponse(
          { title: 'Slug taken', status: 409, detail: "A project with the slug 'smith' exists already." },
          { status: 409, headers: { 'Content-Type': 'application/problem+json' } },
        ),
    });
    renderInRouter(<ProjectForm onSaved={vi.fn()} cancelHref="/projects" />);
    await user.type(screen.getByLabelText('Project name'), 'Smith');
    await user.type(screen.getByLabelText('Short name (slug, optional)'), 'smith');
    await user.click(screen.getByRole('button', { name: 'Create project' }));

    const slug = screen.getByLabelText('Short name (slug, optional)');
    await vi.waitFor(() => expect(slug).toHaveAttribute('aria-invalid', 'true'));
    expect(slug).toHaveAccessibleDescription(expect.stringContaining("A project with the slug 'smith' exists already."));
  });

  it('edits a project: its settings filled in, the slug fixed, saved with PUT', async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    let sent: unknown;
    const existing = project({
      id: 3,
      settings: siteSettings({
        mqtt: { host: 'broker.lan', port: 8883, username: 'ha', tls: true },
        cameras: [{ name: 'garden', streamUrl: 'rtsp://10.0.0.9/s1' }],
        network: { bridge: 'vmbr1', vlan: 20 },
      }),
    });
    mockApi({
      'PUT /api/projects/3': async (request) => {
        sent = await request.json();
        return jsonResponse(existing);
      },
    });
    renderInRouter(<ProjectForm project={existing} onSaved={onSaved} cancelHref="/projects/3" />);
    const form = screen.getByRole('form', { name: 'Edit project' });

    expect(within(form).getByLabelText('Project name')).toHaveValue('Smith residence');
    expect(within(form).queryByLabelText(/Short name/)).not.toBeInTheDocument();
    expect(within(form).getByText('smith')).toBeInTheDocument();
    expect(within(form).getByRole('radio', { name: /Another broker/ })).toBeChecked();
    expect(within(form).getByLabelText('Broker host')).toHaveValue('broker.lan');
    expect(within(form).getByLabelText('Use TLS')).toBeChecked();
    expect(within(form).getByLabelText('Camera 1 name')).toHaveValue('garden');

    await user.click(within(form).getByRole('button', { name: 'Remove camera 1 (garden)' }));
    await user.click(within(form).getByRole('radio', { name: /Home Assistant of this project/ }));
    await user.click(within(form).getByRole('button', { name: 'Save changes' }));

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(sent).toEqual({
      name: 'Smith residence',
      settings: {
        zigbee: { mode: 'network', host: '192.168.1.50', port: 6638, adapter: 'zstack', usbDevice: null },
        zwave: { mode: 'network', host: '192.168.1.51', port: 3333, adapter: 'zstack', usbDevice: null },
        mqtt: null,
        cameras: [],
        network: { bridge: 'vmbr1', vlan: 20 },
        addressing: { mode: 'dhcp', network: null, range: null, gateway: null, dnsServers: [], dnsServesHostnames: false },
        node: null,
        storage: null,
        backups: null,
      },
    });
  });
});

describe('project form cameras', () => {
  it('shows a stored camera password as the server redacts it and sends it back unchanged', async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    let sent: { settings: { cameras: unknown[] } } | undefined;
    const redacted = 'rtsp://viewer:***@192.168.1.80:554/stream1';
    const existing = project({ id: 3, settings: siteSettings({ cameras: [{ name: 'front-door', streamUrl: redacted }] }) });
    mockApi({
      'PUT /api/projects/3': async (request) => {
        sent = (await request.json()) as typeof sent;
        return jsonResponse(existing);
      },
    });
    renderInRouter(<ProjectForm project={existing} onSaved={onSaved} cancelHref="/projects/3" />);
    const form = screen.getByRole('form', { name: 'Edit project' });

    const url = within(form).getByLabelText('Camera 1 stream URL');
    expect(url).toHaveValue(redacted);
    expect(url).toHaveAccessibleDescription(expect.stringContaining('leave it to keep it'));
    await user.click(within(form).getByRole('button', { name: 'Save changes' }));

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(sent?.settings.cameras).toEqual([{ name: 'front-door', streamUrl: redacted }]);
  });

  it('gives no password hint for a URL without a stored password', () => {
    const existing = project({ id: 3, settings: siteSettings({ cameras: [{ name: 'garden', streamUrl: 'rtsp://10.0.0.9/s1' }] }) });
    renderInRouter(<ProjectForm project={existing} onSaved={vi.fn()} cancelHref="/projects/3" />);

    expect(screen.getByLabelText('Camera 1 stream URL')).not.toHaveAccessibleDescription(expect.stringContaining('***'));
  });
});

describe('project form error summary', () => {
  it('goes once every marked field has been changed', async () => {
    const user = userEvent.setup();
    mockApi({ 'POST /api/projects': () => validationProblem({ name: ["'Name' must not be empty."] }) });
    renderInRouter(<ProjectForm onSaved={vi.fn()} cancelHref="/projects" />);
    await user.click(screen.getByRole('button', { name: 'Create project' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('one setting needs fixing');
    await user.type(screen.getByLabelText('Project name'), 'Smith');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
