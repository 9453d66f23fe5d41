import { useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, fieldErrors, problemMessage, type Project } from '@/shared/api';
import { Button, buttonClass } from '@/shared/ui/button';
import { Field, SelectField } from '@/shared/ui/field';
import { AlertTriangleIcon, PlusIcon, TrashIcon, UsbIcon } from '@/shared/ui/icons';
import { useCreateProject, useUpdateProject } from '../api/save-project';
import {
  emptyProjectForm,
  formToCreateRequest,
  formToUpdateRequest,
  groupErrors,
  newCamera,
  projectToForm,
  WEEKDAYS,
  ZIGBEE_ADAPTERS,
  valueAt,
  type CoordinatorForm,
  type ProjectForm as FormState,
} from '../lib/settings-form';
import styles from './projects.module.css';

/** A set of radio buttons with a legend, each option with an optional second line. */
function Choice<T extends string>({
  legend,
  name,
  value,
  options,
  onChange,
}: {
  legend: string;
  name: string;
  value: T;
  options: { value: T; label: string; hint?: string }[];
  onChange: (value: T) => void;
}) {
  return (
    <fieldset className={styles.choice}>
      <legend className={styles.choiceLegend}>{legend}</legend>
      {options.map((option) => (
        <label key={option.value} className={styles.choiceOption}>
          <input type="radio" name={name} value={option.value} checked={value === option.value} onChange={() => onChange(option.value)} />
          <span>
            <span className={styles.choiceLabel}>{option.label}</span>
            {option.hint ? <span className={styles.choiceHint}>{option.hint}</span> : null}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

/** A titled block of the form (one per part of the site). */
function Section({ title, description, children }: { title: string; description?: ReactNode; children: ReactNode }) {
  const id = useId();
  return (
    <section className={styles.formSection} aria-labelledby={id}>
      <div className={styles.formSectionHead}>
        <h2 id={id} className={styles.formSectionTitle}>
          {title}
        </h2>
        {description ? <p className={styles.formSectionDescription}>{description}</p> : null}
      </div>
      <div className={styles.formSectionBody}>{children}</div>
    </section>
  );
}

/** The amber note under a coordinator set to USB: it needs a step on the Proxmox host by hand. */
export function UsbBindingWarning({ component, device }: { component: string; device: string }) {
  return (
    <p className={styles.usbWarning} role="note">
      <UsbIcon width={18} height={18} />
      <span>
        <strong>This needs a manual USB binding on the Proxmox host.</strong> After the deploy, pass{' '}
        <code>{device.trim() || 'the USB device'}</code> through to the {component} guest (Proxmox: the guest → Resources →
        Add → Device Passthrough). Until then its card is flagged amber.
      </span>
    </p>
  );
}

function CoordinatorFields({
  kind,
  value,
  onChange,
  errors,
}: {
  kind: 'zigbee' | 'zwave';
  value: CoordinatorForm;
  onChange: (value: CoordinatorForm) => void;
  errors: (field: string) => string[] | undefined;
}) {
  const set = (patch: Partial<CoordinatorForm>) => onChange({ ...value, ...patch });
  const zigbee = kind === 'zigbee';
  const prefix = `settings.${kind}`;
  return (
    <>
      <Choice
        legend={zigbee ? 'Zigbee coordinator' : 'Z-Wave controller'}
        name={`${kind}-mode`}
        value={value.mode}
        onChange={(mode) => set({ mode })}
        options={[
          zigbee
            ? { value: 'network', label: 'Network coordinator', hint: 'Ethernet or PoE (SLZB-06, UZG-01, …): recommended' }
            : { value: 'network', label: 'Network (ser2net)', hint: 'A Z-Wave stick on a ser2net bridge: recommended' },
          { value: 'usb', label: 'USB stick on the Proxmox host', hint: 'Needs a manual USB binding after the deploy' },
        ]}
      />
      {value.mode === 'network' ? (
        <div className={styles.row}>
          <Field
            label={zigbee ? 'Coordinator host' : 'ser2net host'}
            placeholder="192.168.1.50"
            value={value.host}
            onChange={(e) => set({ host: e.target.value })}
            errors={errors(`${prefix}.host`)}
            hint="IP address or host name"
            autoComplete="off"
            spellCheck={false}
          />
          <Field
            label={zigbee ? 'Coordinator port' : 'ser2net port'}
            inputMode="numeric"
            value={value.port}
            onChange={(e) => set({ port: e.target.value })}
            errors={errors(`${prefix}.port`)}
            hint={zigbee ? 'Usually 6638' : 'Often 3333'}
          />
        </div>
      ) : (
        <>
          <Field
            label="USB device"
            placeholder="/dev/serial/by-id/usb-…"
            value={value.usbDevice}
            onChange={(e) => set({ usbDevice: e.target.value })}
            errors={errors(`${prefix}.usbdevice`)}
            hint="The stick's path on the Proxmox host; /dev/serial/by-id/… survives reboots"
            autoComplete="off"
            spellCheck={false}
          />
          <UsbBindingWarning component={zigbee ? 'Zigbee2MQTT' : 'Z-Wave JS UI'} device={value.usbDevice} />
        </>
      )}
      {zigbee ? (
        <SelectField
          label="Adapter type"
          value={value.adapter}
          onChange={(e) => set({ adapter: e.target.value })}
          errors={errors(`${prefix}.adapter`)}
        >
          {ZIGBEE_ADAPTERS.map((adapter) => (
            <option key={adapter.value} value={adapter.value}>
              {adapter.label}
            </option>
          ))}
        </SelectField>
      ) : null}
      {errors(`${prefix}.mode`) ? <p className={styles.fieldError}>{errors(`${prefix}.mode`)?.join(' ')}</p> : null}
    </>
  );
}

/**
 * Create or edit a project: the customer site's name and the settings its guests are wired with.
 * The API validates; its errors are shown next to the fields they belong to.
 */
export function ProjectForm({
  project,
  onSaved,
  cancelHref,
}: {
  /** The project to edit; none = create a new one. */
  project?: Project;
  onSaved: (project: Project) => void;
  cancelHref: string;
}) {
  const [form, setForm] = useState<FormState>(() => (project ? projectToForm(project) : emptyProjectForm()));
  // The form as last sent: a field's error goes away once its value is changed.
  const [sent, setSent] = useState<FormState | null>(null);
  const create = useCreateProject({ onSuccess: onSaved });
  const update = useUpdateProject({ onSuccess: onSaved });
  const mutation = project ? update : create;
  const formRef = useRef<HTMLFormElement>(null);

  const grouped = groupErrors(fieldErrors(mutation.error), sent ?? form);
  const changedSinceSent = (key: string) => sent !== null && JSON.stringify(valueAt(form, key)) !== JSON.stringify(valueAt(sent, key));
  const error = mutation.error;
  // A refused slug (409 taken, 400 not derivable) belongs next to the slug field.
  const slugRefusal =
    !project && error instanceof ApiError && Object.keys(fieldErrors(error)).length === 0 && (error.status === 409 || /slug/i.test(problemMessage(error)))
      ? [problemMessage(error)]
      : undefined;
  const errorsOf = (key: string) =>
    changedSinceSent(key) ? undefined : key === 'slug' && slugRefusal ? slugRefusal : grouped.byField[key];
  // Fields still marked (an error goes once its field is changed).
  const invalidCount =
    Object.keys(grouped.byField).filter((key) => !changedSinceSent(key)).length + (slugRefusal && !changedSinceSent('slug') ? 1 : 0);
  const allFixed =
    (Object.keys(grouped.byField).length > 0 || Boolean(slugRefusal)) && invalidCount === 0 && grouped.unplaced.length === 0;

  const set = (patch: Partial<FormState>) => setForm((current) => ({ ...current, ...patch }));

  function submit(event: FormEvent) {
    event.preventDefault();
    const focusFirstInvalid = () =>
      // After React has drawn the errors: the first field marked invalid, else the summary.
      requestAnimationFrame(() => {
        const first = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
        (first ?? formRef.current?.querySelector<HTMLElement>('[role="alert"]'))?.focus();
      });
    setSent(form);
    if (project) update.mutate({ id: project.id, ...formToUpdateRequest(form) }, { onError: focusFirstInvalid });
    else create.mutate(formToCreateRequest(form), { onError: focusFirstInvalid });
  }

  return (
    <form ref={formRef} className={styles.form} onSubmit={submit} noValidate aria-label={project ? 'Edit project' : 'New project'}>
      {mutation.isError && !allFixed ? (
        <div className={styles.formErrors} role="alert" tabIndex={-1}>
          <AlertTriangleIcon width={20} height={20} />
          <div>
            <p className={styles.formErrorsTitle}>
              {invalidCount > 0
                ? `The project was not saved: ${invalidCount === 1 ? 'one setting needs' : `${invalidCount} settings need`} fixing — see the marked fields.`
                : grouped.unplaced.length > 0
                  ? 'The project was not saved:'
                  : `The project was not saved: ${problemMessage(error)}`}
            </p>
            {grouped.unplaced.length > 0 ? (
              <ul>
                {grouped.unplaced.map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            ) : null}
            {error instanceof ApiError ? (
              <details className={styles.details}>
                <summary>Details</summary>
                <pre>{error.technicalSummary}</pre>
              </details>
            ) : null}
          </div>
        </div>
      ) : null}

      <Section title="Customer site" description="Who this stack is for. The short name becomes part of every guest's hostname.">
        <Field
          label="Project name"
          placeholder="Smith residence"
          value={form.name}
          onChange={(e) => set({ name: e.target.value })}
          errors={errorsOf('name')}
          required
          autoComplete="off"
        />
        {project ? (
          <div className={styles.readOnly}>
            <span className={styles.readOnlyLabel}>Short name (slug)</span>
            <code>{project.slug}</code>
            <span className={styles.hint}>Part of every hostname; it cannot change once the project exists.</span>
          </div>
        ) : (
          <Field
            label="Short name (slug, optional)"
            placeholder="smith-residence"
            value={form.slug}
            onChange={(e) => set({ slug: e.target.value })}
            errors={errorsOf('slug')}
            hint="Leave empty to derive it from the name. a–z, 0–9 and '-'; guests are named like smith-residence-zigbee2mqtt."
            autoComplete="off"
            spellCheck={false}
          />
        )}
      </Section>

      <Section title="Zigbee" description="Where Zigbee2MQTT finds the Zigbee coordinator.">
        <CoordinatorFields kind="zigbee" value={form.zigbee} onChange={(zigbee) => set({ zigbee })} errors={errorsOf} />
      </Section>

      <Section title="Z-Wave" description="Where Z-Wave JS UI finds the Z-Wave controller.">
        <CoordinatorFields kind="zwave" value={form.zwave} onChange={(zwave) => set({ zwave })} errors={errorsOf} />
      </Section>

      <Section title="MQTT broker" description="Zigbee2MQTT and Frigate publish here.">
        <Choice
          legend="MQTT broker"
          name="mqtt-mode"
          value={form.mqttMode}
          onChange={(mqttMode) => set({ mqttMode })}
          options={[
            {
              value: 'project',
              label: 'Home Assistant of this project',
              hint: 'Its built-in Mosquitto, with credentials made for this site: recommended',
            },
            { value: 'custom', label: 'Another broker', hint: 'An MQTT broker the customer already runs' },
          ]}
        />
        {form.mqttMode === 'custom' ? (
          <>
            <div className={styles.row}>
              <Field
                label="Broker host"
                placeholder="192.168.1.10"
                value={form.mqtt.host}
                onChange={(e) => set({ mqtt: { ...form.mqtt, host: e.target.value } })}
                errors={errorsOf('settings.mqtt.host')}
                autoComplete="off"
                spellCheck={false}
              />
              <Field
                label="Broker port"
                inputMode="numeric"
                value={form.mqtt.port}
                onChange={(e) => set({ mqtt: { ...form.mqtt, port: e.target.value } })}
                errors={errorsOf('settings.mqtt.port')}
                hint="1883, or 8883 with TLS"
              />
            </div>
            <Field
              label="User name (optional)"
              value={form.mqtt.username}
              onChange={(e) => set({ mqtt: { ...form.mqtt, username: e.target.value } })}
              errors={errorsOf('settings.mqtt.username')}
              autoComplete="off"
            />
            <label className={styles.checkbox}>
              <input
                type="checkbox"
                checked={form.mqtt.tls}
                onChange={(e) => set({ mqtt: { ...form.mqtt, tls: e.target.checked } })}
              />
              Use TLS
            </label>
          </>
        ) : null}
      </Section>

      <Section title="Cameras" description="Streams Frigate records. Add them now or later (edit the project).">
        {form.cameras.length === 0 ? <p className={styles.muted}>No cameras yet.</p> : null}
        {errorsOf('settings.cameras') ? <p className={styles.fieldError}>{errorsOf('settings.cameras')?.join(' ')}</p> : null}
        <ul className={styles.cameras}>
          {form.cameras.map((camera, index) => (
            <li key={camera.key} className={styles.camera}>
              <Field
                label="Name"
                aria-label={`Camera ${index + 1} name`}
                placeholder="front-door"
                value={camera.name}
                onChange={(e) =>
                  set({ cameras: form.cameras.map((c) => (c.key === camera.key ? { ...c, name: e.target.value } : c)) })
                }
                errors={errorsOf(`settings.cameras[${index}].name`)}
                autoComplete="off"
                spellCheck={false}
              />
              <Field
                label="Stream URL"
                aria-label={`Camera ${index + 1} stream URL`}
                placeholder="rtsp://user:pass@192.168.1.60:554/stream1"
                hint={
                  hasStoredPassword(camera.streamUrl)
                    ? 'The password is stored encrypted and shown as ***: leave it to keep it, or type a new one.'
                    : undefined
                }
                value={camera.streamUrl}
                onChange={(e) =>
                  set({ cameras: form.cameras.map((c) => (c.key === camera.key ? { ...c, streamUrl: e.target.value } : c)) })
                }
                errors={errorsOf(`settings.cameras[${index}].streamurl`)}
                autoComplete="off"
                spellCheck={false}
              />
              <Button
                size="small"
                className={styles.removeCamera}
                onClick={() => set({ cameras: form.cameras.filter((c) => c.key !== camera.key) })}
                aria-label={`Remove camera ${index + 1}${camera.name ? ` (${camera.name})` : ''}`}
              >
                <TrashIcon />
                Remove
              </Button>
            </li>
          ))}
        </ul>
        <div>
          <Button size="small" onClick={() => set({ cameras: [...form.cameras, newCamera()] })}>
            <PlusIcon />
            Add camera
          </Button>
        </div>
      </Section>

      <Section title="Network" description="How the guests' network cards are attached.">
        <div className={styles.row}>
          <Field
            label="Bridge"
            placeholder="vmbr0"
            value={form.bridge}
            onChange={(e) => set({ bridge: e.target.value })}
            errors={errorsOf('settings.network.bridge')}
            hint="Empty = the provisioner's default bridge"
            autoComplete="off"
            spellCheck={false}
          />
          <Field
            label="VLAN tag"
            inputMode="numeric"
            placeholder="untagged"
            value={form.vlan}
            onChange={(e) => set({ vlan: e.target.value })}
            errors={errorsOf('settings.network.vlan')}
            hint="1–4094; empty = untagged"
          />
        </div>
      </Section>

      <Section
        title="Addresses"
        description="How the guests get their IP addresses, and how they and Home Assistant find each other."
      >
        <Choice
          legend="Guest addresses"
          name="addressing-mode"
          value={form.addressing.mode}
          onChange={(mode) => set({ addressing: { ...form.addressing, mode } })}
          options={[
            {
              value: 'dhcp',
              label: 'DHCP (the router)',
              hint: "The site's DHCP server gives each guest an address; reserve them there to keep them stable",
            },
            {
              value: 'static',
              label: 'Static addresses',
              hint: 'The provisioner gives each guest a fixed address from a block you keep free for it',
            },
          ]}
        />
        {form.addressing.mode === 'static' ? (
          <>
            <div className={styles.row}>
              <Field
                label="Network (CIDR)"
                placeholder="192.168.1.0/24"
                value={form.addressing.network}
                onChange={(e) => set({ addressing: { ...form.addressing, network: e.target.value } })}
                errors={errorsOf('settings.addressing.network')}
                hint="The LAN in CIDR notation; its /prefix is the guests' netmask"
                autoComplete="off"
                spellCheck={false}
              />
              <Field
                label="Address block for guests"
                placeholder="192.168.1.64/27"
                value={form.addressing.range}
                onChange={(e) => set({ addressing: { ...form.addressing, range: e.target.value } })}
                errors={errorsOf('settings.addressing.range')}
                hint="CIDR inside the network, outside the DHCP pool: each guest gets one of these"
                autoComplete="off"
                spellCheck={false}
              />
            </div>
            <div className={styles.row}>
              <Field
                label="Gateway"
                placeholder="192.168.1.1"
                value={form.addressing.gateway}
                onChange={(e) => set({ addressing: { ...form.addressing, gateway: e.target.value } })}
                errors={errorsOf('settings.addressing.gateway')}
                hint="The router's address on the network"
                autoComplete="off"
                spellCheck={false}
              />
              <Field
                label="DNS servers"
                placeholder="192.168.1.1"
                value={form.addressing.dnsServers}
                onChange={(e) => set({ addressing: { ...form.addressing, dnsServers: e.target.value } })}
                errors={errorsOf('settings.addressing.dnsservers')}
                hint="One to three, separated by commas (often the gateway)"
                autoComplete="off"
                spellCheck={false}
              />
            </div>
          </>
        ) : null}
        <label className={styles.checkbox}>
          <input
            type="checkbox"
            checked={form.addressing.dnsServesHostnames}
            onChange={(e) => set({ addressing: { ...form.addressing, dnsServesHostnames: e.target.checked } })}
          />
          The site's DNS resolves the guests' host names
        </label>
        <p className={styles.hint}>
          Leave unticked unless the router or DNS server knows names like <code>smith-residence-zwavejs</code>: the
          guests and Home Assistant then reach each other by address.
        </p>
        {errorsOf('settings.addressing.mode') ? (
          <p className={styles.fieldError}>{errorsOf('settings.addressing.mode')?.join(' ')}</p>
        ) : null}
      </Section>

      <Section title="Placement (optional)" description="Only on hosts with several nodes or storages.">
        <div className={styles.row}>
          <Field
            label="Proxmox node"
            placeholder="default"
            value={form.node}
            onChange={(e) => set({ node: e.target.value })}
            errors={errorsOf('settings.node')}
            hint="Empty = the provisioner's default node"
            autoComplete="off"
            spellCheck={false}
          />
          <Field
            label="Storage"
            placeholder="default (local-lvm)"
            value={form.storage}
            onChange={(e) => set({ storage: e.target.value })}
            errors={errorsOf('settings.storage')}
            hint="Empty = the provisioner's default storage"
            autoComplete="off"
            spellCheck={false}
          />
        </div>
      </Section>

      <Section
        title="Guest backups"
        description="Proxmox backs up the project's guests (vzdump, snapshot mode) on this schedule; older backups of the provisioner's own beyond the number to keep are removed."
      >
        <label className={styles.checkbox}>
          <input
            type="checkbox"
            checked={form.backups.enabled}
            onChange={(e) => set({ backups: { ...form.backups, enabled: e.target.checked } })}
          />
          Back up this project's guests
        </label>
        {form.backups.enabled ? (
          <>
            <div className={styles.row}>
              <SelectField
                label="How often"
                value={form.backups.frequency}
                onChange={(e) => set({ backups: { ...form.backups, frequency: e.target.value as FormState['backups']['frequency'] } })}
              >
                <option value="daily">Daily</option>
                <option value="weekly">Weekly</option>
              </SelectField>
              {form.backups.frequency === 'weekly' ? (
                <SelectField
                  label="Day"
                  value={form.backups.day}
                  onChange={(e) => set({ backups: { ...form.backups, day: e.target.value } })}
                  errors={errorsOf('settings.backups.schedule.day')}
                >
                  {WEEKDAYS.map((d) => (
                    <option key={d} value={d}>
                      {d[0]?.toUpperCase() + d.slice(1)}
                    </option>
                  ))}
                </SelectField>
              ) : null}
              <Field
                label="Time (HH:MM)"
                placeholder="03:00"
                value={form.backups.time}
                onChange={(e) => set({ backups: { ...form.backups, time: e.target.value } })}
                errors={errorsOf('settings.backups.schedule.time')}
                hint="24-hour clock, the Proxmox host's time zone"
                autoComplete="off"
              />
            </div>
            <div className={styles.row}>
              <Field
                label="Backup storage"
                placeholder="local"
                value={form.backups.storage}
                onChange={(e) => set({ backups: { ...form.backups, storage: e.target.value } })}
                errors={errorsOf('settings.backups.storage')}
                hint="A Proxmox storage whose content includes backups"
                autoComplete="off"
                spellCheck={false}
              />
              <Field
                label="Backups to keep per guest"
                inputMode="numeric"
                value={form.backups.keepLast}
                onChange={(e) => set({ backups: { ...form.backups, keepLast: e.target.value } })}
                errors={errorsOf('settings.backups.retention.keeplast')}
                hint="1 to 100"
                autoComplete="off"
              />
            </div>
          </>
        ) : null}
      </Section>

      <div className={styles.formActions}>
        <Button variant="primary" type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? 'Saving…' : project ? 'Save changes' : 'Create project'}
        </Button>
        <Link to={cancelHref} className={buttonClass('secondary')}>
          Cancel
        </Link>
        {project ? (
          <p className={styles.muted}>Changes apply to guests deployed from now on; running guests keep their wiring.</p>
        ) : null}
      </div>
    </form>
  );
}

/** The server shows a camera's stored password as `user:***@`; sending that back keeps it. */
function hasStoredPassword(streamUrl: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*:\*\*\*@/i.test(streamUrl);
}
