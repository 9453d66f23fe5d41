using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// Where the Proxmox API is and how to authenticate: the configured host, or the simulated host in demo mode.
/// A class, not a record, so that no generated ToString can ever print the secret.
/// </summary>
public sealed class ProxmoxConnection(Uri baseUrl, string tokenId, string tokenSecret, string certificateFingerprint, bool simulated)
{
    /// <summary>API root ending in <c>/api2/json/</c>.</summary>
    public Uri BaseUrl { get; } = NormaliseBase(baseUrl);
    public string TokenId { get; } = tokenId;
    public string TokenSecret { get; } = tokenSecret;
    public string CertificateFingerprint { get; } = NormaliseFingerprint(certificateFingerprint);
    public bool Simulated { get; } = simulated;

    public string AuthorizationValue => $"{TokenId}={TokenSecret}";

    public override string ToString() => $"{BaseUrl} as {TokenId}{(Simulated ? " (simulated)" : "")}";

    /// <summary>Uppercase colon-separated SHA-256 of the DER certificate, as Proxmox shows it.</summary>
    public static string FingerprintOf(X509Certificate certificate) =>
        string.Join(':', SHA256.HashData(certificate.GetRawCertData()).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    public static string NormaliseFingerprint(string fingerprint) => fingerprint.Trim().ToUpperInvariant().Replace('-', ':');

    private static Uri NormaliseBase(Uri url)
    {
        var text = url.ToString().TrimEnd('/');
        if (!text.EndsWith("/api2/json", StringComparison.Ordinal))
        {
            text += "/api2/json";
        }

        return new Uri(text + "/");
    }
}

/// <summary>
/// The connection every Proxmox call uses now: chosen at start (settings saved by an admin, else configuration,
/// else the simulated host) and replaced when an admin saves new settings, so later calls use the new host and token.
/// </summary>
public sealed class ProxmoxConnections
{
    private ProxmoxConnection? _current;

    public ProxmoxConnections()
    {
    }

    public ProxmoxConnections(ProxmoxConnection connection) => _current = connection;

    public ProxmoxConnection Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("No Proxmox connection has been chosen yet (the app has not been prepared).");

    public void Use(ProxmoxConnection connection) => Volatile.Write(ref _current, connection);
}

/// <summary>
/// Trusts exactly one certificate: the node's, by its pinned SHA-256 fingerprint. Remembers what a
/// mismatching server presented so the error can name both fingerprints.
/// </summary>
public sealed class CertificatePin(ProxmoxConnections connections)
{
    private string? _lastMismatch;

    public string Expected => connections.Current.CertificateFingerprint;

    public string? LastMismatch => Volatile.Read(ref _lastMismatch);

    public bool Validate(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        var presented = ProxmoxConnection.FingerprintOf(certificate);
        if (string.Equals(presented, Expected, StringComparison.Ordinal))
        {
            return true;
        }

        Volatile.Write(ref _lastMismatch, presented);
        return false;
    }
}
