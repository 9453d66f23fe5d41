using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ctrlable.PveSim.Hosting;

/// <summary>Self-signed per-node certificates, shaped like pve-ssl.pem (RSA 2048, 2 years, node names in the SAN).</summary>
public static class NodeCertificates
{
    // One key for every node this process emulates: an RSA-2048 key costs tens of milliseconds of a core to make, and
    // the tests start hundreds of emulators. Each certificate is still new (its serial number is random), and so is
    // its fingerprint, which is what the orchestrator pins.
    private static readonly Lazy<RSA> Key = new(() => RSA.Create(2048));

    public static X509Certificate2 Create(string node, DateTimeOffset now)
    {
        // Signing with the one key is serialised: an RSA object is not documented as safe to share between threads.
        lock (Key)
        {
            return Create(node, now, Key.Value);
        }
    }

    private static X509Certificate2 Create(string node, DateTimeOffset now, RSA rsa)
    {
        var request = new CertificateRequest(
            $"CN={node}.ctrlable.sim, O=Proxmox Virtual Environment, OU=PVE Cluster Node",
            rsa,
            HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(node);
        san.AddDnsName($"{node}.ctrlable.sim");
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(2));

        // Round-trip through PKCS#12 so Kestrel gets a certificate with a usable (non-ephemeral) private key.
        return Import(created.Export(X509ContentType.Pkcs12));
    }

    public static X509Certificate2 Import(byte[] pkcs12) =>
        X509CertificateLoader.LoadPkcs12(pkcs12, null, X509KeyStorageFlags.Exportable);

    /// <summary>SHA-256 of the DER certificate as uppercase colon-separated hex, like Proxmox's ssl_fingerprint.</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
}
