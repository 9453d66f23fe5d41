using System.Text;
using Ctrlable.Provisioner.Provision;

namespace Ctrlable.Provisioner.Demo;

/// <summary>
/// A simulated guest's disk in a sandbox folder: <c>root/</c> holds what a clone of a Ctrlable template holds —
/// the app's configuration as the community-scripts install leaves it, the template's identity (a truncated
/// /etc/machine-id as <c>pct clone</c> leaves it, the template's SSH host keys), firstboot.env, template.env and the
/// enabled first-boot unit — <c>bin/</c> the stand-ins for systemctl, ssh-keygen, systemd-machine-id-setup, hostnamectl,
/// docker and mysql, <c>log/</c> the calls they got, <c>state/</c> what they keep (docker containers).
/// </summary>
public sealed record SimulatedGuest(string Directory, string Root, string Bin, string Log, string State, string ScriptPath)
{
    /// <summary>The commands the stand-ins replace (curl only passes through, for tests that cut the power after a request).</summary>
    public static readonly IReadOnlyList<string> Commands = ["systemctl", "ssh-keygen", "systemd-machine-id-setup", "hostnamectl", "docker", "mysql", "curl", "update-routine"];

    /// <summary>The template's machine id (the clone's /var/lib/dbus/machine-id still holds it).</summary>
    public static string TemplateMachineId(int templateVmid) => $"{templateVmid:x8}".PadLeft(32, 'c');

    /// <summary>Where a path of the guest is in the sandbox, e.g. <c>/etc/machine-id</c>.</summary>
    public string PathOf(string guestPath) => Path.Combine(Root, guestPath.TrimStart('/'));

    /// <summary>The environment that runs ctrlable-firstboot.sh in this sandbox (curl bound to the guest's address when given).</summary>
    public Dictionary<string, string> ScriptEnvironment(string? sourceAddress)
    {
        var environment = new Dictionary<string, string>
        {
            ["ROOT"] = Root,
            ["SANDBOX_LOG"] = Log,
            ["SANDBOX_STATE"] = State,
            ["SYSTEMCTL"] = Path.Combine(Bin, "systemctl"),
            ["SSH_KEYGEN"] = Path.Combine(Bin, "ssh-keygen"),
            ["MACHINE_ID_SETUP"] = Path.Combine(Bin, "systemd-machine-id-setup"),
            ["HOSTNAMECTL"] = Path.Combine(Bin, "hostnamectl"),
            ["DOCKER"] = Path.Combine(Bin, "docker"),
            ["MYSQL"] = Path.Combine(Bin, "mysql"),
            // The app's community-scripts update routine cannot run here: its stand-in installs the version asked for.
            ["UPDATE_ROUTINE"] = Path.Combine(Bin, "update-routine"),
        };
        if (sourceAddress is not null)
        {
            environment["CURL_INTERFACE"] = sourceAddress;
        }

        return environment;
    }
}

public static class SimulatedGuestImage
{
    /// <summary>The script in the repository (host/firstboot); templates carry it as /usr/local/sbin/ctrlable-firstboot.</summary>
    public const string ScriptName = "ctrlable-firstboot.sh";
    public const string UnitName = "ctrlable-firstboot.service";
    public const string StandInsName = "sandbox/guest-commands.sh";

    /// <summary>Where the script keeps the instance credential its first fetch handed out (removed with firstboot.env at the end, unless the guest follows its broker).</summary>
    public const string CredentialPath = "/etc/ctrlable/instance-credential";

    /// <summary>What the template build records of the template; it outlives the first boot.</summary>
    public const string TemplateEnvPath = "/etc/ctrlable/template.env";

    /// <summary>host/firstboot as the build copies it beside the orchestrator.</summary>
    public static string BundledScriptDirectory => Path.Combine(AppContext.BaseDirectory, "firstboot");

    /// <summary>A sandbox <see cref="Create"/> laid out before (the guest's disk as its first boot left it).</summary>
    public static SimulatedGuest Open(string directory) => new(
        directory,
        Path.Combine(directory, "root"),
        Path.Combine(directory, "bin"),
        Path.Combine(directory, "log"),
        Path.Combine(directory, "state"),
        Path.Combine(directory, "root", "usr", "local", "sbin", "ctrlable-firstboot"));

    /// <summary>
    /// Lays out a fresh sandbox for a guest of <paramref name="type"/> in <paramref name="directory"/> (an old one
    /// there is removed: a new clone may reuse a VMID). <paramref name="scriptDirectory"/> holds host/firstboot.
    /// </summary>
    public static SimulatedGuest Create(string directory, string type, string hostname, int templateVmid, FirstBootEnvironment environment, string scriptDirectory)
    {
        if (System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }

        var guest = Open(directory);
        foreach (var dir in new[] { guest.Root, guest.Bin, guest.Log, guest.State })
        {
            System.IO.Directory.CreateDirectory(dir);
        }

        // The installed first boot, as the template build leaves it: script, enabled unit, firstboot.env.
        Copy(Path.Combine(scriptDirectory, ScriptName), guest.ScriptPath, executable: true);
        Copy(Path.Combine(scriptDirectory, UnitName), guest.PathOf($"/etc/systemd/system/{UnitName}"), executable: false);
        var wants = guest.PathOf($"/etc/systemd/system/multi-user.target.wants/{UnitName}");
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(wants)!);
        File.CreateSymbolicLink(wants, $"/etc/systemd/system/{UnitName}");
        Write(guest, FirstBootEnvironment.GuestPath, environment.Render(), secret: true);
        // What the build records of the template (host/ctrlable-build); the first boot leaves it in place.
        Write(guest, TemplateEnvPath,
            $"CTRLABLE_RELEASE={environment.Release}\nCTRLABLE_TEMPLATE={environment.Template}\nCTRLABLE_COMMUNITY_SCRIPTS_COMMIT=simulated\nCTRLABLE_APP_VERSION=simulated\n");

        // Stand-ins: one script, called through a link per command name.
        var standIns = Path.Combine(guest.Bin, "guest-commands.sh");
        Copy(Path.Combine(scriptDirectory, StandInsName), standIns, executable: true);
        foreach (var command in SimulatedGuest.Commands)
        {
            File.CreateSymbolicLink(Path.Combine(guest.Bin, command), "guest-commands.sh");
        }

        LayOutSystem(guest, hostname, templateVmid);
        LayOutApp(guest, type);
        return guest;
    }

    private static void LayOutSystem(SimulatedGuest guest, string hostname, int templateVmid)
    {
        // pct clone truncates /etc/machine-id but keeps the template's SSH host keys and dbus machine id.
        Write(guest, "/etc/machine-id", "");
        Write(guest, "/var/lib/dbus/machine-id", SimulatedGuest.TemplateMachineId(templateVmid) + "\n");
        foreach (var type in new[] { "rsa", "ecdsa", "ed25519" })
        {
            Write(guest, $"/etc/ssh/ssh_host_{type}_key", $"-----BEGIN OPENSSH PRIVATE KEY-----\ntemplate {templateVmid} {type} host key\n-----END OPENSSH PRIVATE KEY-----\n", secret: true);
            Write(guest, $"/etc/ssh/ssh_host_{type}_key.pub", $"ssh-{type} AAAAtemplate{templateVmid}{type} root@template\n");
        }

        Write(guest, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n");
        // Proxmox writes the guest's name into /etc/hostname and /etc/hosts when it starts the container.
        Write(guest, "/etc/hostname", hostname + "\n");
        Write(guest, "/etc/hosts", $"127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n# --- BEGIN PVE ---\n127.0.1.1 {hostname}\n# --- END PVE ---\n");
        Write(guest, "/etc/debian_version", "12.11\n");
    }

    /// <summary>The app's files as the pinned community-scripts install (tag 2026-05-30) leaves them.</summary>
    private static void LayOutApp(SimulatedGuest guest, string type)
    {
        switch (type)
        {
            case TemplateTypes.Zigbee2Mqtt:
                // install/zigbee2mqtt-install.sh: the release tarball in /opt/zigbee2mqtt, configuration.example.yaml moved to configuration.yaml.
                Write(guest, "/opt/zigbee2mqtt/data/configuration.yaml", Zigbee2MqttExampleConfiguration);
                Write(guest, "/opt/zigbee2mqtt/package.json", "{\n  \"name\": \"zigbee2mqtt\",\n  \"version\": \"2.6.3\"\n}\n");
                Write(guest, "/root/.zigbee2mqtt", "2.6.3\n");
                Write(guest, "/etc/systemd/system/zigbee2mqtt.service", "[Service]\nExecStart=/usr/bin/pnpm start\nWorkingDirectory=/opt/zigbee2mqtt\n");
                break;
            case TemplateTypes.ZwaveJs:
                // install/zwave-js-ui-install.sh: store in /opt/zwave_store (STORE_DIR in /opt/.env); settings.json is written by the UI.
                Write(guest, "/opt/.env", "ZWAVEJS_EXTERNAL_CONFIG=/opt/zwave_store/.config-db\nSTORE_DIR=/opt/zwave_store\n");
                Write(guest, "/opt/zwave_store/settings.json", ZwaveJsUiSettings);
                Write(guest, "/root/.zwave-js-ui", "11.9.1\n");
                break;
            case TemplateTypes.Frigate:
                // install/frigate-install.sh: /config/config.yml with the sample camera (the CPU-model variant).
                Write(guest, "/config/config.yml", FrigateConfiguration);
                Write(guest, "/etc/frigate.env", "DEFAULT_FFMPEG_VERSION=\"7.0\"\nINCLUDED_FFMPEG_VERSIONS=\"7.0:5.0\"\n");
                Write(guest, "/root/.frigate", "v0.17.1\n");
                break;
            case TemplateTypes.DockerPortainer:
                // install/docker-install.sh with Portainer: container "portainer" on volume portainer_data.
                Write(guest, "/etc/docker/daemon.json", "{\n  \"log-driver\": \"journald\"\n}\n");
                var containers = Path.Combine(guest.State, "docker", "containers");
                var volumes = Path.Combine(guest.State, "docker", "volumes");
                System.IO.Directory.CreateDirectory(containers);
                System.IO.Directory.CreateDirectory(volumes);
                File.WriteAllText(Path.Combine(containers, "portainer"), "portainer/portainer-ce:latest\n\n");
                File.WriteAllText(Path.Combine(volumes, "portainer_data"), "created by the template build\n");
                break;
            case TemplateTypes.FreePbx:
                // install/freepbx-install.sh runs Sangoma's installer: FreePBX on MariaDB, database asterisk.
                Write(guest, "/etc/freepbx.conf", "<?php\n$amp_conf['AMPDBUSER'] = 'freepbxuser';\n$amp_conf['AMPDBHOST'] = 'localhost';\n$amp_conf['AMPDBNAME'] = 'asterisk';\n");
                break;
            default:
                break;
        }
    }

    private static void Write(SimulatedGuest guest, string guestPath, string content, bool secret = false)
    {
        var path = guest.PathOf(guestPath);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }

    private static void Copy(string from, string to, bool executable)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to, overwrite: true);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(to, executable
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }

    /// <summary>Zigbee2MQTT 2.x data/configuration.example.yaml.</summary>
    public const string Zigbee2MqttExampleConfiguration = """
        # Indicates the configuration version (used by configuration migrations)
        version: 4

        # Home Assistant integration (MQTT discovery)
        homeassistant:
          enabled: false

        # Enable the frontend, runs on port 8080 by default
        frontend:
          enabled: true
          # port: 8080

        # MQTT settings
        mqtt:
          # MQTT base topic for zigbee2mqtt MQTT messages
          base_topic: zigbee2mqtt
          # MQTT server URL
          server: 'mqtt://localhost'
          # MQTT server authentication, uncomment if required:
          # user: my_user
          # password: my_password

        # Serial settings, only required when Zigbee2MQTT fails to start with:
        #   USB adapter discovery error (No valid USB adapter found).
        # Specify the serial port path if auto-detect fails
        serial:
          # Location of the adapter
          # USB adapters - use format "port: /dev/serial/by-id/XXX"
          # Ethernet adapters - use format "port: tcp://192.168.1.12:6638"
          port: /dev/ttyACM0
          # Adapter type, allowed values: `zstack`, `ember`, `deconz`, `zigate` or `zboss`
          adapter: zstack

        # Periodically check whether devices are online/offline
        # availability:
        #   enabled: false

        # Advanced settings
        advanced:
          # channel: 11
          # Let Zigbee2MQTT generate a network key on first start
          network_key: GENERATE
          # Let Zigbee2MQTT generate a pan_id on first start
          pan_id: GENERATE
          # Let Zigbee2MQTT generate a ext_pan_id on first start
          ext_pan_id: GENERATE

        """;

    /// <summary>A zwave-js-ui store/settings.json with the UI's defaults.</summary>
    public const string ZwaveJsUiSettings = """
        {
          "mqtt": { "name": "zwave-js-ui", "host": "localhost", "port": 1883, "qos": 1, "prefix": "zwave", "disabled": false },
          "gateway": { "type": 0, "plugins": [], "authEnabled": false, "payloadType": 0, "logLevel": "info" },
          "zwave": { "port": "/dev/zwave", "commandsTimeout": 30, "logLevel": "info", "logEnabled": true, "serverEnabled": false, "serverPort": 3000 },
          "ui": { "darkMode": false, "navTabs": false }
        }

        """;

    /// <summary>/config/config.yml as install/frigate-install.sh writes it on a host without AVX.</summary>
    public const string FrigateConfiguration = """
        mqtt:
          enabled: false
        cameras:
          test:
            ffmpeg:
              inputs:
                - path: /media/frigate/person-bicycle-car-detection.mp4
                  input_args: -re -stream_loop -1 -fflags +genpts
                  roles:
                    - detect
            detect:
              height: 1080
              width: 1920
              fps: 5
        auth:
          enabled: false
        detect:
          enabled: false
        ffmpeg:
          hwaccel_args: auto
        model:
          path: /models/cpu_model.tflite

        """;
}
