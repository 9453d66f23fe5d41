import type { CoordinatorSettings, SiteSettings } from '@/shared/api';
import { UsbIcon } from '@/shared/ui/icons';
import { FactsList } from '@/shared/ui/facts-list';
import { StatusBadge } from '@/shared/ui/status-badge';
import { ZIGBEE_ADAPTERS } from '../lib/settings-form';

function adapterName(adapter: string): string {
  const known = ZIGBEE_ADAPTERS.find((a) => a.value === adapter);
  return known ? known.label.replace(/ \(.*$/, '') : adapter;
}

function Coordinator({ value, zigbee }: { value: CoordinatorSettings; zigbee: boolean }) {
  if (value.mode === 'usb') {
    return (
      <>
        <span>
          USB stick <code>{value.usbDevice || '(no device set)'}</code>
          {zigbee ? ` · ${adapterName(value.adapter)}` : ''}
        </span>{' '}
        <StatusBadge tone="warning" icon={<UsbIcon />}>
          Needs a USB binding on the host
        </StatusBadge>
      </>
    );
  }
  const where = value.host ? (
    <code>
      {value.host}:{value.port}
    </code>
  ) : (
    <em>no host set</em>
  );
  return (
    <span>
      {zigbee ? 'Network coordinator' : 'ser2net'} {where}
      {zigbee ? ` · ${adapterName(value.adapter)}` : ''}
    </span>
  );
}

/** A project's site settings in a few readable lines. */
export function ProjectSettingsSummary({ settings }: { settings: SiteSettings }) {
  const { mqtt, network } = settings;
  return (
    <FactsList
      layout="stack"
      facts={[
        { term: 'Zigbee', value: <Coordinator value={settings.zigbee} zigbee /> },
        { term: 'Z-Wave', value: <Coordinator value={settings.zwave} zigbee={false} /> },
        {
          term: 'MQTT',
          value: mqtt ? (
            <span>
              <code>
                {mqtt.host}:{mqtt.port}
              </code>
              {mqtt.username ? ` · user ${mqtt.username}` : ''}
              {mqtt.tls ? ' · TLS' : ''}
            </span>
          ) : (
            'Home Assistant of this project (its Mosquitto)'
          ),
        },
        { term: 'Cameras', value: settings.cameras.length ? settings.cameras.map((c) => c.name).join(', ') : 'None' },
        {
          term: 'Network',
          value: (
            <>
              Bridge {network.bridge ? <code>{network.bridge}</code> : 'default'} ·{' '}
              {network.vlan ? `VLAN ${network.vlan}` : 'untagged'}
            </>
          ),
        },
        {
          term: 'Addresses',
          value: (
            <>
              {settings.addressing.mode === 'static' ? (
                <>
                  Static from <code>{settings.addressing.range ?? '?'}</code> · gateway{' '}
                  <code>{settings.addressing.gateway ?? '?'}</code> · DNS{' '}
                  <code>{settings.addressing.dnsServers.join(', ') || '?'}</code>
                </>
              ) : (
                'DHCP'
              )}
              {settings.addressing.dnsServesHostnames ? ' · reached by host name' : ' · reached by address'}
            </>
          ),
        },
        {
          term: 'Placement',
          value: (
            <>
              {settings.node ? (
                <>
                  Node <code>{settings.node}</code>
                </>
              ) : (
                'Default node'
              )}{' '}
              ·{' '}
              {settings.storage ? (
                <>
                  storage <code>{settings.storage}</code>
                </>
              ) : (
                'default storage'
              )}
            </>
          ),
        },
      ]}
    />
  );
}
