using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Ctrlable.Provisioner.Tls;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Provision;

/// <summary>
/// What a release's templates carry in <c>/etc/ctrlable/firstboot.env</c> (0600 root): where the orchestrator is,
/// its certificate's SHA-256 fingerprint, the SHA-256 of its public key as curl pins it (<c>sha256//&lt;base64&gt;</c>)
/// and the release's first-boot secret. host/ctrlable-build writes it on the Proxmox host with the same keys; the
/// simulated guests get it from <see cref="Render"/>.
/// </summary>
public sealed record FirstBootEnvironment(Uri OrchestratorUrl, string TlsFingerprint, string TlsPublicKeyPin, string Release, string Template, string ReleaseSecret)
{
    public const string GuestPath = "/etc/ctrlable/firstboot.env";

    /// <summary>The Proxmox tag of templates with the first-boot script baked in; clones keep it.</summary>
    public const string TemplateTag = "ctrlable-firstboot";

    /// <summary>The file's text: KEY=value lines (also a valid systemd EnvironmentFile).</summary>
    public string Render() => new StringBuilder()
        .AppendLine("# Written by the Ctrlable template build: how this guest's first boot reaches the orchestrator.")
        .AppendLine("# Holds the release's first-boot secret: root only (0600).")
        .AppendLine($"CTRLABLE_ORCHESTRATOR_URL={OrchestratorUrl.GetLeftPart(UriPartial.Authority)}")
        .AppendLine($"CTRLABLE_ORCHESTRATOR_FINGERPRINT={TlsFingerprint}")
        .AppendLine($"CTRLABLE_ORCHESTRATOR_PUBKEY={TlsPublicKeyPin}")
        .AppendLine($"CTRLABLE_RELEASE={Release}")
        .AppendLine($"CTRLABLE_TEMPLATE={Template}")
        .AppendLine($"CTRLABLE_RELEASE_SECRET={ReleaseSecret}")
        .ToString();

    // Never print the secret (records print every property by default).
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"OrchestratorUrl = {OrchestratorUrl}, TlsFingerprint = {TlsFingerprint}, TlsPublicKeyPin = {TlsPublicKeyPin}, Release = {Release}, Template = {Template}");
        return true;
    }
}

/// <summary>Builds <see cref="FirstBootEnvironment"/>s for this orchestrator (the template build and the simulated guests use it).</summary>
public sealed class FirstBootEnvironments(IOptions<ProvisionOptions> options, IServer server, TlsCertificate tls, ReleaseSecrets secrets)
{
    /// <summary>The firstboot.env of a release's template, or null when the release has no first-boot secret or guests have no https URL to use.</summary>
    public async Task<FirstBootEnvironment?> ForTemplateAsync(string release, string template, CancellationToken ct) =>
        GuestUrl() is { } url && await secrets.GetAsync(release, ct) is { } secret
            ? new FirstBootEnvironment(url, tls.Fingerprint, tls.PublicKeyPin, release, template, secret)
            : null;

    /// <summary>
    /// The URL guests reach the orchestrator at: <see cref="ProvisionOptions.GuestUrl"/>, else the first https address
    /// the server listens on (a wildcard address becomes this machine's first LAN address). Null: no https listener.
    /// </summary>
    public Uri? GuestUrl()
    {
        if (options.Value.GuestUrl.Length > 0)
        {
            return new Uri(options.Value.GuestUrl);
        }

        var https = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .FirstOrDefault(a => a.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        if (https is null)
        {
            return null;
        }

        var rest = https["https://".Length..];
        var host = rest.StartsWith('[') ? rest[..(rest.IndexOf(']', StringComparison.Ordinal) + 1)] : rest.Split(':', '/')[0];
        var port = rest[host.Length..].TrimStart(':').Split('/')[0];
        if (host is "*" or "+" or "0.0.0.0" or "[::]")
        {
            host = LanAddress()?.ToString() ?? "127.0.0.1";
        }

        return new Uri($"https://{host}:{port}/");
    }

    private static IPAddress? LanAddress()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        }
        catch (NetworkInformationException)
        {
            return null;
        }
    }
}
